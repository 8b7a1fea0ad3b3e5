// Builds the HTTP application from its parts; main.ts and the tests build it the same way.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { except } from "hono/combine";
import { connectionRoutes } from "./connections/connections.handlers.ts";
import { connectorRoutes } from "./connectors/connectors.routes.ts";
import { consoleRoutes } from "./console/console.handlers.ts";
import type { DevSignIn } from "./console/console.service.ts";
import type { ConnectorRegistry } from "./connectors/registry.ts";
import type { KeyRing } from "./crypto/seal.ts";
import type { Sql } from "./db/pool.ts";
import { requireTenant, type TenantVerifier } from "./http/auth.ts";
import type { AppEnv } from "./http/env.ts";
import { errorHandler, notFoundHandler } from "./http/errors.ts";
import type { Logger } from "./http/logger.ts";
import { requestLog } from "./http/request_log.ts";
import { jsonBodies, validationHook } from "./http/validation.ts";
import { httpMetrics } from "./metrics/http_metrics.ts";
import { metricsRoutes } from "./metrics/metrics.routes.ts";
import type { MetricsRegistry } from "./metrics/registry.ts";
import { opsRoutes } from "./ops/ops.handlers.ts";
import type { RateLimiter } from "./http/rate_limit.ts";
import type { Aggregators } from "./vendors/clients.ts";
import type { EgressPolicy } from "./vendors/egress.ts";
import { pullRoutes } from "./pulls/pulls.handlers.ts";
import { transactionRoutes } from "./transactions/transactions.handlers.ts";
import { webhookReceiver } from "./webhooks/receiver.ts";
import { webhookTokenRoutes } from "./webhooks/tokens.handlers.ts";

/** Everything the app touches, handed in so that tests use real parts of their choosing. */
export interface AppDeps {
  sql: Sql;
  kv: Deno.Kv;
  keyRing: KeyRing;
  verifyTenant: TenantVerifier;
  connectors: ConnectorRegistry;
  egress: EgressPolicy;
  /** Vendor clients, built over the egress-checked HTTP of the deployment or of a test. */
  aggregators: Aggregators;
  /** Limits live connection tests per connection. */
  testLimiter: RateLimiter;
  logger: Logger;
  /** The registry /metrics renders; the app adds the HTTP metrics to it, other parts their own. */
  metrics: MetricsRegistry;
  /** MATCHER_PUBLIC_URL, without a trailing slash: the base of minted webhook URLs. */
  publicUrl: string;
  /** MATCHER_METRICS_TOKEN; /metrics is off without it. */
  metricsToken?: string;
  /** The clock of pulls and webhook receipts (tests move it to bring retries due). */
  now: () => number;
  /** Called when a pull was queued: the local worker pool's `wake`. */
  onPullQueued: () => void;
  /** How long a pull a webhook queued waits for the vendor's other events of the same sync. */
  webhookPullDelayMs: number;
  /** The console's development sign-in; undefined (production, JWKS) leaves it out. */
  devSignIn?: DevSignIn;
}

/** Webhook deliveries carry their token in the path, not a JWT, and a vendor's JSON as it is. */
const WEBHOOK_DELIVERY = /^\/v1\/discovery\/webhooks\/(?!tokens\/)[^/]+\/[^/]+$/;
const isWebhookDelivery = (c: Context) =>
  c.req.method === "POST" && WEBHOOK_DELIVERY.test(c.req.path);

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.use("*", requestLog(deps.logger, httpMetrics(deps.metrics)));
  app.use("/v1/*", except(isWebhookDelivery, requireTenant(deps.verifyTenant), jsonBodies()));
  app.onError(errorHandler(deps.logger));
  app.notFound(notFoundHandler);

  opsRoutes(app, deps);
  metricsRoutes(app, deps);
  connectionRoutes(app, deps);
  webhookTokenRoutes(app, deps);
  connectorRoutes(app, deps.connectors);
  pullRoutes(app, deps);
  transactionRoutes(app, deps);
  webhookReceiver(app, deps);
  consoleRoutes(app, deps);
  return app;
}
