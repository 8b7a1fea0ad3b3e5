// Builds the HTTP application from its parts; src/service.ts builds it for main.ts and the tests.
import { OpenAPIHono } from "@hono/zod-openapi";
import { operations } from "../generated/routes.ts";
import { auditRoutes } from "./audit/audit.handlers.ts";
import { changeRoutes } from "./changes/changes.handlers.ts";
import { connectionRoutes } from "./connections/connections.handlers.ts";
import type { LiveCheckDeps } from "./connections/live_checks.service.ts";
import type { ConnectionDeps } from "./connections/connections.service.ts";
import { connectorRoutes } from "./connectors/connectors.handlers.ts";
import { type ConsoleDeps, consoleRoutes } from "./console/console.handlers.ts";
import type { ConnectorRegistry } from "./connectors/connectors.service.ts";
import { requireTenant, type TenantVerifier } from "./http/auth.ts";
import type { AppEnv } from "./http/env.ts";
import { deadline } from "./http/deadline.ts";
import { type DirectLane, directLane } from "./http/direct.ts";
import { errorHandler, notFoundHandler } from "./http/errors.ts";
import type { RequestLimits } from "./http/limits.ts";
import { requestLog, requestRecorder } from "./http/request_log.ts";
import { hardening } from "./http/secure_headers.ts";
import type { FetchHandler } from "./http/serve.ts";
import { type RouteClass, routeClass } from "./http/route_classes.ts";
import { tenantLimits } from "./http/tenant_limits.ts";
import { jsonBodies, validationHook } from "./http/validation.ts";
import { idempotencyKeys } from "./idempotency/idempotency.handlers.ts";
import type { IdempotencyDeps } from "./idempotency/idempotency.service.ts";
import type { Logger } from "./lib/logger.ts";
import type { TenantQuota } from "./lib/tenant_quota.ts";
import { httpMetrics } from "./metrics/http_metrics.ts";
import { type MetricsRouteDeps, metricsRoutes } from "./metrics/metrics.handlers.ts";
import type { MetricsRegistry } from "./metrics/registry.ts";
import type { WebhookObserver } from "./metrics/webhook_metrics.ts";
import { opsRoutes } from "./ops/ops.handlers.ts";
import type { OpsDeps } from "./ops/ops.service.ts";
import { pullRoutes } from "./pulls/pulls.handlers.ts";
import type { PullServiceDeps } from "./pulls/pulls.service.ts";
import { transactionRoutes } from "./transactions/transactions.handlers.ts";
import { documentWebhookRoute, webhookReceiver } from "./webhooks/webhooks.handlers.ts";
import type { WebhookIntake } from "./webhooks/webhooks.service.ts";
import { webhookTokenRoutes } from "./webhooks/tokens.handlers.ts";
import type { TokenDeps } from "./webhooks/tokens.service.ts";

/** What the routes need, built by src/service.ts. */
export type AppDeps =
  & ConnectionDeps
  & LiveCheckDeps
  & TokenDeps
  & PullServiceDeps
  & OpsDeps
  & MetricsRouteDeps
  & ConsoleDeps
  & {
    verifyTenant: TenantVerifier;
    connectors: ConnectorRegistry;
    logger: Logger;
    /** The registry /metrics renders; the app adds the HTTP metrics to it. */
    metrics: MetricsRegistry;
    webhooks: WebhookIntake;
    observeWebhook: WebhookObserver;
    idempotency: IdempotencyDeps;
    requestLimits: RequestLimits;
    /** Each tenant's requests a minute by route class. */
    quota: TenantQuota<RouteClass>;
  };

/** An operation needs the tenant's JWT exactly when openapi.yaml's security says so. */
const needsBearer = (security: readonly Record<string, unknown>[]) =>
  security.some((requirement) => "bearerAuth" in requirement);

/** The methods whose operations take an Idempotency-Key (with a JWT; openapi.yaml declares it). */
const WRITES = new Set(["POST", "PUT", "DELETE"]);

/** An OpenAPI path template in Hono's syntax: `{id}` becomes `:id`. */
const honoPath = (path: string) => path.replace(/\{([^}]+)\}/g, ":$1");

/** The HTTP application: the direct routes, then Hono. */
export interface HttpApp {
  /** Every operation but the direct ones, and the whole OpenAPI document. */
  app: OpenAPIHono<AppEnv>;
  /** The routes answered before Hono (the webhook receiver); a server may call them itself. */
  direct: DirectLane;
  /** Any request: a direct route's, else Hono's. */
  fetch: FetchHandler;
}

export function createApp(deps: AppDeps): HttpApp {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const record = requestRecorder(deps.logger, httpMetrics(deps.metrics));
  app.use("*", requestLog(record));
  app.use("*", hardening());
  // Registered before the handlers, for exactly the operations the spec secures with a JWT: the
  // tenant's limit of the operation's class is counted once the caller is known, its JSON body is
  // checked after that, the deadline bounds the rest, and a write runs once per Idempotency-Key
  // (inside the deadline, so that a late write still records its answer under its key rather
  // than freeing it for a second run).
  const limits = deps.requestLimits;
  for (const route of Object.values(operations)) {
    if (needsBearer(route.security)) {
      const method = route.method.toUpperCase();
      const body = { timeoutMs: limits.bodyTimeoutMs, maxDepth: limits.maxJsonDepth };
      const bodyless = !("request" in route && "body" in route.request);
      const waitMs = route.operationId === "testAggregatorConnection"
        ? limits.liveTestWaitMs
        : limits.waitMs;
      const quota = tenantLimits(deps.quota, routeClass(route));
      app.on(
        method,
        honoPath(route.path),
        requireTenant(deps.verifyTenant),
        ...quota,
        jsonBodies({ ...body, bodyless }),
        deadline(waitMs),
      );
      if (WRITES.has(method)) {
        app.on(
          method,
          honoPath(route.path),
          idempotencyKeys(deps.idempotency, { method, path: route.path }),
        );
      }
    }
  }
  app.onError(errorHandler(deps.logger));
  app.notFound(notFoundHandler);

  opsRoutes(app, deps);
  metricsRoutes(app, deps);
  connectionRoutes(app, deps);
  webhookTokenRoutes(app, deps);
  connectorRoutes(app, deps.connectors);
  pullRoutes(app, deps);
  transactionRoutes(app, deps);
  changeRoutes(app, deps);
  auditRoutes(app, deps);
  documentWebhookRoute(app);
  consoleRoutes(app, deps);
  const direct = directLane([webhookReceiver(deps)], { logger: deps.logger, record });
  return { app, direct, fetch: (request) => direct.fetch(request) ?? app.fetch(request) };
}
