// Measures every request once: one JSON log line and one metrics observation with the request id,
// method, route pattern (never the raw path), status and duration.
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { RequestObserver } from "../metrics/http_metrics.ts";
import type { AppEnv } from "./env.ts";
import type { Logger } from "../lib/logger.ts";

const INCOMING_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The route label of a request that matched no route. */
export const UNMATCHED_ROUTE = "(unmatched)";

/** The first middleware of the app: request id, then after the answer, the log line and metrics. */
export function requestLog(logger: Logger, observe: RequestObserver): MiddlewareHandler<AppEnv> {
  return async function logRequest(c, next) {
    const started = performance.now();
    const incoming = c.req.header("X-Request-Id");
    const requestId = incoming && INCOMING_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);
    await next();
    const seconds = (performance.now() - started) / 1000;
    // The pattern, not the path: paths may carry tokens (webhook URLs) and ids.
    const route = matchedRoutes(c).filter((r) => r.method !== "ALL").at(-1)?.path ??
      UNMATCHED_ROUTE;
    const { method } = c.req;
    const status = c.res.status;
    observe({ method, route, status, seconds });
    logger.info({
      msg: "request",
      ...c.get("log"),
      requestId,
      method,
      route,
      status,
      durationMs: Math.round(seconds * 100_000) / 100,
    });
  };
}
