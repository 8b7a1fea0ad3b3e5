// The hardening headers on every answer: Hono's secureHeaders with this service's choices, and
// the same headers as a list for the routes served before Hono (src/http/direct.ts).
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";

/**
 * nosniff, frame and referrer policies and the like. No Content-Security-Policy: JSON needs none,
 * and an HTML page sets its own, which this never overwrites.
 */
export const hardening = () => secureHeaders({ xFrameOptions: "DENY", overwrite: false });

/** What `hardening` sets on an answer that has none of them, read once from the middleware. */
export const HARDENING_HEADERS: readonly [string, string][] = await (async () => {
  const probe = new Hono().use(hardening()).get("/", (c) => c.body(null));
  return [...(await probe.request("/")).headers];
})();
