// Measures every request once: one JSON log line and one metrics observation with the request id,
// method, route pattern (never the raw path), status and duration.
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { RequestObserver } from "../metrics/http_metrics.ts";
import type { AppEnv } from "./env.ts";
import type { Logger, LogRecord } from "../lib/logger.ts";

const INCOMING_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The route label of a request that matched no route. */
export const UNMATCHED_ROUTE = "(unmatched)";

/** A request's id: the caller's X-Request-Id when it is a sane one, else a new UUID. */
export function requestIdFor(incoming: string | null | undefined): string {
  return incoming && INCOMING_ID.test(incoming) ? incoming : crypto.randomUUID();
}

/** One answered request, as the log line and the metrics take it. */
export interface AnsweredRequest {
  requestId: string;
  method: string;
  /** The route pattern, never the raw path: paths may carry tokens (webhook URLs) and ids. */
  route: string;
  status: number;
  /** `performance.now()` when the request arrived. */
  started: number;
  /** What the handler adds to the line (its `msg` included). */
  log?: LogRecord;
}

/** Writes the one log line and the metrics observation of each answered request. */
export type RequestRecorder = (request: AnsweredRequest) => void;

export function requestRecorder(logger: Logger, observe: RequestObserver): RequestRecorder {
  return function recordRequest({ requestId, method, route, status, started, log }) {
    const seconds = (performance.now() - started) / 1000;
    observe({ method, route, status, seconds });
    logger.info({
      msg: "request",
      ...log,
      requestId,
      method,
      route,
      status,
      durationMs: Math.round(seconds * 100_000) / 100,
    });
  };
}

/** The first middleware of the app: request id, then after the answer, the request's record. */
export function requestLog(record: RequestRecorder): MiddlewareHandler<AppEnv> {
  return async function logRequest(c, next) {
    const started = performance.now();
    const requestId = requestIdFor(c.req.header("X-Request-Id"));
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);
    await next();
    const route = matchedRoutes(c).filter((r) => r.method !== "ALL").at(-1)?.path ??
      UNMATCHED_ROUTE;
    const { method } = c.req;
    record({ requestId, method, route, status: c.res.status, started, log: c.get("log") });
  };
}
