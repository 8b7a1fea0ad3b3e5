// The Idempotency-Key middleware of the tenant API's writing operations: run once, then replay.
import type { MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { zIdempotencyKey } from "../../generated/zod/zod.gen.ts";
import type { AppEnv } from "../http/env.ts";
import { AppError } from "../lib/app_error.ts";
import { errorSummary } from "../lib/error_summary.ts";
import * as service from "./idempotency.service.ts";

/** The header that marks an answer repeated from an earlier request with the same key. */
export const REPLAYED_HEADER = "Idempotency-Replayed";

/**
 * Kept: every answer below 500 but 429. A 5xx (the database away, a bug) or a 429 (come back
 * later) says nothing final about the request, so the key is freed and a repeat runs again.
 */
export function isKept(status: number): boolean {
  return status < 500 && status !== 429;
}

/** The key as the header carries it: bare, or as a structured-field string in double quotes. */
export function parseKey(header: string): string {
  if (!zIdempotencyKey.safeParse(header).success) {
    throw AppError.invalid([{
      field: "Idempotency-Key",
      message: "must be 1 to 255 letters, digits or any of _ . : ~ + / = - (bare or in double " +
        "quotes), sent once",
    }]);
  }
  return header.startsWith('"') ? header.slice(1, -1) : header;
}

/**
 * Runs after the tenant is known and the body passed the JSON guard, before the operation's own
 * validation: a request without the header goes on untouched; with it, the operation runs only if
 * this request claims the key, and its answer is kept when `isKept` says so.
 */
export function idempotencyKeys(
  deps: service.IdempotencyDeps,
  route: { method: string; path: string },
): MiddlewareHandler<AppEnv> {
  return async function idempotent(c, next) {
    const header = c.req.header("Idempotency-Key");
    if (header === undefined) return await next();
    const key = parseKey(header);
    const tenantId = c.get("tenantId");
    // A DELETE's body means nothing to its operation, and the JSON guard does not cap it: it is
    // neither read nor part of the request's fingerprint.
    const body = route.method === "DELETE"
      ? new Uint8Array()
      : new Uint8Array(await c.req.arrayBuffer());
    const request = { method: route.method, route: route.path, params: c.req.param(), body };
    const start = await service.startRequest(deps, tenantId, key, request);
    if (!start.run) {
      c.set("log", { msg: "request", ...c.get("log"), idempotency: "replayed" });
      const { status, contentType, body: kept } = start.answer;
      // A kept answer may hold a secret shown once (a minted token): no cache keeps a replay.
      const headers: Record<string, string> = {
        [REPLAYED_HEADER]: "true",
        "Cache-Control": "no-store",
      };
      if (contentType) headers["Content-Type"] = contentType;
      return c.newResponse(
        status === 204 ? null : kept as Uint8Array<ArrayBuffer>,
        status as ContentfulStatusCode,
        headers,
      );
    }
    let answer: service.KeptAnswer | undefined;
    try {
      await next();
      if (isKept(c.res.status)) {
        answer = {
          status: c.res.status,
          contentType: c.res.headers.get("Content-Type"),
          body: new Uint8Array(await c.res.clone().arrayBuffer()),
        };
      }
    } finally {
      // The caller gets the operation's answer either way; a key left running is taken over
      // once the takeover bound has passed.
      await service.finishRequest(deps, start.attempt, answer).catch((err) => {
        deps.logger.warn({
          msg: "idempotency key not settled",
          requestId: c.get("requestId"),
          error: errorSummary(err),
        });
      });
    }
  };
}
