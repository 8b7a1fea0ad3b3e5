// GET /metrics: the registry in the Prometheus text format, behind the operator's bearer token.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { getMetrics } from "../../generated/routes.ts";
import { sameSecret } from "../crypto/same_secret.ts";
import type { AppEnv } from "../http/env.ts";
import { AppError } from "../lib/app_error.ts";
import { errorSummary } from "../lib/error_summary.ts";
import type { Logger } from "../lib/logger.ts";
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
    if (!deps.metricsToken) throw new AppError("no_such_route", "No such route.");
    const given = BEARER.exec(c.req.header("Authorization") ?? "")?.[1];
    if (!given || !(await sameSecret(given, deps.metricsToken))) {
      throw new AppError("unauthenticated", "A valid metrics token is required.", {
        headers: { "WWW-Authenticate": 'Bearer realm="matcher-metrics"' },
      });
    }
    for (const failure of await deps.metrics.refresh()) {
      deps.logger.warn({
        msg: "metrics refresh failed; showing the last values",
        requestId: c.get("requestId"),
        source: failure.source,
        reason: failure.reason,
        error: failure.error ? errorSummary(failure.error) : undefined,
      });
    }
    return c.text(deps.metrics.render(), 200, { "Content-Type": EXPOSITION_CONTENT_TYPE });
  });
}
