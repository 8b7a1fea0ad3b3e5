// One JSON log line per request: request id, method, route pattern (never the raw path), status, time.
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "./env.ts";
import type { Logger } from "./logger.ts";

const INCOMING_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function requestLog(logger: Logger): MiddlewareHandler<AppEnv> {
  return async function logRequest(c, next) {
    const started = performance.now();
    const incoming = c.req.header("X-Request-Id");
    const requestId = incoming && INCOMING_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);
    await next();
    // The pattern, not the path: paths may carry tokens (webhook URLs) and ids.
    const route = matchedRoutes(c).filter((r) => r.method !== "ALL").at(-1)?.path ?? "(unmatched)";
    logger.info({
      msg: "request",
      requestId,
      method: c.req.method,
      route,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
    });
  };
}
