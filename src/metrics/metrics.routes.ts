// GET /metrics: the registry in the Prometheus text format, behind the operator's bearer token.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { getMetrics } from "../../generated/routes.ts";
import { sameSecret } from "../crypto/same_secret.ts";
import type { AppEnv } from "../http/env.ts";
import { AppError, ErrorCode } from "../http/errors.ts";
import type { Logger } from "../http/logger.ts";
import { EXPOSITION_CONTENT_TYPE } from "./exposition.ts";
import type { MetricsRegistry } from "./registry.ts";

export interface MetricsRouteDeps {
  metrics: MetricsRegistry;
  /** MATCHER_METRICS_TOKEN; without it /metrics answers like an unknown route. */
  metricsToken?: string;
  logger: Logger;
}

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Registers GET /metrics: 404 when off, 401 without the right token, else the exposition, its
 * database-held values refreshed first (or left as they were when the database fails or is slow).
 */
export function metricsRoutes(app: OpenAPIHono<AppEnv>, deps: MetricsRouteDeps): void {
  app.openapi(getMetrics, async (c) => {
    if (!deps.metricsToken) throw new AppError(404, ErrorCode.noSuchRoute, "No such route.");
    const given = BEARER.exec(c.req.header("Authorization") ?? "")?.[1];
    if (!given || !(await sameSecret(given, deps.metricsToken))) {
      throw new AppError(401, ErrorCode.unauthenticated, "A valid metrics token is required.", {
        headers: { "WWW-Authenticate": 'Bearer realm="matcher-metrics"' },
      });
    }
    for (const failure of await deps.metrics.refresh()) {
      // The name and code only: a driver's error text can carry a query and its values.
      const e = failure.error as { name?: string; code?: string } | undefined;
      deps.logger.warn({
        msg: "metrics refresh failed; showing the last values",
        requestId: c.get("requestId"),
        source: failure.source,
        reason: failure.reason,
        error: e ? { name: e.name, code: e.code } : undefined,
      });
    }
    return c.text(deps.metrics.render(), 200, { "Content-Type": EXPOSITION_CONTENT_TYPE });
  });
}
