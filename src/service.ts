// The service's object graph, built once from settings and the side effects handed in: main.ts
// runs it, and the tests build exactly the same one over their own database, KV and clock.
import { createApp } from "./app.ts";
import type { Config } from "./config/config.ts";
import {
  type ConnectorRegistry,
  createConnectorRegistry,
  registerBuiltInConnectors,
} from "./connectors/connectors.service.ts";
import type { DevSignIn } from "./console/console.service.ts";
import { createKeyRing } from "./crypto/seal.ts";
import type { Sql } from "./db/pool.ts";
import { createTenantVerifier } from "./http/auth.ts";
import type { Logger } from "./lib/logger.ts";
import { createRateLimiter } from "./lib/rate_limit.ts";
import { createTenantQuota } from "./lib/tenant_quota.ts";
import { processMetrics } from "./metrics/process_metrics.ts";
import { pullMetrics } from "./metrics/pull_metrics.ts";
import { createMetricsRegistry, type MetricsRegistry } from "./metrics/registry.ts";
import { vendorMetrics } from "./metrics/vendor_metrics.ts";
import { webhookMetrics } from "./metrics/webhook_metrics.ts";
import { createPullPool, type PullPool } from "./pulls/pull_pool.ts";
import { sweepPulls } from "./pulls/sweep.ts";
import { type Aggregators, createAggregators } from "./vendors/clients.ts";
import { createVendorHttp } from "./vendors/vendor_http.ts";
import { createTokenCache } from "./webhooks/token_cache.ts";
import { createTokenLimits } from "./webhooks/token_limits.ts";
import { createWebhookIntake } from "./webhooks/webhooks.service.ts";

/** The settings the service runs by: the parsed configuration, less where it stores and listens. */
export type ServiceSettings = Pick<
  Config,
  | "auth"
  | "sealKeys"
  | "egress"
  | "vendorHttp"
  | "connectionTestsPerMinute"
  | "rateLimits"
  | "metricsToken"
  | "publicUrl"
  | "pulls"
  | "webhookTokenCacheMs"
>;

/** The side effects the service works through, and what a test may put in their place. */
export interface ServiceParts {
  settings: ServiceSettings;
  sql: Sql;
  kv: Deno.Kv;
  logger: Logger;
  /** The clock of pulls, webhook receipts, limits and vendor keys (tests move it). */
  now: () => number;
  /** Replaces the vendor clients (a test of what happens when they break unexpectedly). */
  aggregators?: Aggregators;
  connectors?: ConnectorRegistry;
  /** The retry jitter's random source. */
  random?: () => number;
  /** False: a queued pull waits for the next poll, `drain()` or the sweep (tests decide when). */
  wakeOnQueue?: boolean;
  /** The console's development sign-in; undefined (production, a JWKS) leaves it out. */
  devSignIn?: DevSignIn;
}

export interface Service {
  app: ReturnType<typeof createApp>;
  metrics: MetricsRegistry;
  /** This process's pull workers. */
  pool: PullPool;
  /** What Deno.cron runs every minute: reclaim lost pulls, run what is due, prune history. */
  sweep(): ReturnType<typeof sweepPulls>;
  /** Another pool on the same database and vendors, as another replica would run. */
  newPool(options?: { concurrency?: number }): PullPool;
  /** Sends the webhook limits' counts to KV and stops their background work (a graceful stop). */
  closeLimits(): Promise<void>;
}

export async function createService(parts: ServiceParts): Promise<Service> {
  const { settings, sql, kv, logger, now } = parts;
  const metrics = createMetricsRegistry();
  processMetrics(metrics);
  const keyRing = await createKeyRing(settings.sealKeys);
  const aggregators = parts.aggregators ?? createAggregators(
    createVendorHttp({
      egress: settings.egress,
      ...settings.vendorHttp,
      observe: vendorMetrics(metrics),
    }),
    now,
  );
  const observePull = pullMetrics(metrics, { sql, now });
  const newPool = (options: { concurrency?: number } = {}) =>
    createPullPool({
      sql,
      keyRing,
      aggregators,
      logger,
      now,
      leaseMs: settings.pulls.leaseMs,
      maxAttempts: settings.pulls.maxAttempts,
      random: parts.random,
    }, {
      concurrency: options.concurrency ?? settings.pulls.concurrency,
      observe: observePull,
    });
  const pool = newPool();
  const tokenCache = createTokenCache(kv, { ttlMs: settings.webhookTokenCacheMs, now });
  const quota = createTenantQuota(kv, { limits: settings.rateLimits.perTenant, now, logger });
  const perToken = settings.rateLimits.perWebhookToken;
  const tokenLimits = perToken > 0
    ? createTokenLimits(kv, { perMinute: perToken, now })
    : undefined;
  const onPullQueued = () => {
    if (parts.wakeOnQueue !== false) pool.wake();
  };
  const app = createApp({
    sql,
    kv,
    keyRing,
    egress: settings.egress,
    aggregators,
    logger,
    metrics,
    now,
    onPullQueued,
    idsPerAccount: settings.pulls.idsPerAccount,
    publicUrl: settings.publicUrl,
    tokenCache,
    metricsToken: settings.metricsToken,
    verifyTenant: createTenantVerifier(settings.auth),
    connectors: parts.connectors ?? registerBuiltInConnectors(createConnectorRegistry()),
    testLimiter: createRateLimiter(kv, {
      limit: settings.connectionTestsPerMinute,
      windowMs: 60_000,
      now,
    }),
    webhooks: createWebhookIntake({
      sql,
      tokens: tokenCache,
      now,
      onPullQueued,
      webhookPullDelayMs: settings.pulls.webhookDelayMs,
      idsPerAccount: settings.pulls.idsPerAccount,
      limits: tokenLimits,
    }),
    observeWebhook: webhookMetrics(metrics),
    quota,
    devSignIn: parts.devSignIn,
  });
  const sweep = () =>
    sweepPulls({
      sql,
      logger,
      now,
      maxAttempts: settings.pulls.maxAttempts,
      retentionMs: settings.pulls.retentionMs,
      pool,
    });
  const closeLimits = async () => {
    await tokenLimits?.close();
    await quota.close();
  };
  return { app, metrics, pool, sweep, newPool, closeLimits };
}
