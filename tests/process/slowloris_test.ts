// Slowloris against the real service process: connections that trickle their headers, or send
// nothing, are closed once MATCHER_HTTP_HEADERS_TIMEOUT_MS has passed, and others are served.
import assert from "node:assert/strict";
import { createTestDatabase } from "../support/database.ts";
import { serviceSetup } from "../support/service.ts";

const SOCKETS = 300;
/** A header line every 200 ms for 100 lines: 20 s to finish, against a bound of 1 s. */
const LINES = 100;
const PAUSE_MS = 200;

/** What `promise` answers within `ms`, or undefined. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** One connection that trickles a request head; answers what the server said and when it closed. */
async function trickle(port: number, silent: boolean) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let closed = false;
  const reading = new Response(conn.readable).text().catch(() => "").finally(() => closed = true);
  const encoder = new TextEncoder();
  let sent = 0;
  const lines = silent
    ? []
    : ["GET /health HTTP/1.1", "Host: x", ...Array(LINES).fill("X-Slow: 1")];
  for (const line of lines) {
    if (closed) break;
    try {
      await conn.write(encoder.encode(`${line}\r\n`));
    } catch {
      break; // reset by the server
    }
    sent++;
    await new Promise((r) => setTimeout(r, PAUSE_MS));
  }
  // A silent connection waits as long as a trickling one takes, or until the server closes it.
  if (silent) await within(reading, LINES * PAUSE_MS);
  const finished = !closed && sent === lines.length;
  const answer = (await within(reading, 1_000)) ?? "";
  try {
    conn.close();
  } catch {
    // closed by the server
  }
  return { closedByServer: closed && !finished, answer };
}

Deno.test({
  name: "connections trickling their headers are closed by the service, which serves the others",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const db = await createTestDatabase();
    const setup = await serviceSetup(db.url, [], { MATCHER_HTTP_HEADERS_TIMEOUT_MS: "1000" });
    const service = await setup.start();
    try {
      const port = Number(new URL(service.baseUrl).port);
      const attack = Array.from({ length: SOCKETS }, (_, i) => trickle(port, i % 10 === 0));
      // While they trickle, a normal client is served.
      await new Promise((r) => setTimeout(r, 500));
      const health = await fetch(`${service.baseUrl}/health`, {
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: "ok" });

      const results = await Promise.all(attack);
      const held = results.filter((r) => !r.closedByServer).length;
      assert.equal(held, 0, `${held} of ${SOCKETS} connections were held until they finished`);
      // The trickling ones were told why; a silent one is closed all the same.
      assert.ok(results.every((r) => r.answer === "" || /^HTTP\/1\.1 408 /.test(r.answer)));
      assert.ok(results.filter((r) => /^HTTP\/1\.1 408 /.test(r.answer)).length >= SOCKETS / 2);

      const after = await fetch(`${service.baseUrl}/health`);
      assert.equal(after.status, 200, "still serving");
      await after.body?.cancel();
    } finally {
      assert.equal((await service.stop()).code, 0);
      await setup.cleanup();
      await db.drop();
    }
  },
});
