// The service's object graph, built once from settings and the side effects handed in: main.ts
// runs it, and the tests build exactly the same one over their own database, KV and clock.
import { createApp, type HttpApp } from "./app.ts";
import type { Config } from "./config/config.ts";
import {
  type ConnectorRegistry,
  createConnectorRegistry,
  registerBuiltInConnectors,
} from "./connectors/connectors.service.ts";
import type { DevSignIn } from "./console/console.service.ts";
import { createKeyRing } from "./crypto/seal.ts";
import type { Sql } from "./db/pool.ts";
import { connectAmqpBroker } from "./events/amqp_broker.ts";
import type { Broker } from "./events/broker.ts";
import { pruneSentEvents } from "./events/events.repository.ts";
import type { Outbox } from "./events/outbox.ts";
import { createRelay, type Relay, type RelayDeps } from "./events/relay.service.ts";
import { createTenantVerifier } from "./http/auth.ts";
import { createIdempotency, takeoverBound } from "./idempotency/idempotency.service.ts";
import type { Logger } from "./lib/logger.ts";
import type { Semaphore } from "./lib/semaphore.ts";
import { createRateLimiter } from "./lib/rate_limit.ts";
import { createTenantQuota } from "./lib/tenant_quota.ts";
import { processMetrics } from "./metrics/process_metrics.ts";
import { pullMetrics } from "./metrics/pull_metrics.ts";
import { skippedTransactionMetrics } from "./metrics/skipped_transaction_metrics.ts";
import { eventMetrics } from "./metrics/event_metrics.ts";
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
  | "connectionTestsPerTenantPerMinute"
  | "rateLimits"
  | "metricsToken"
  | "publicUrl"
  | "pulls"
  | "webhookTokenCacheMs"
  | "amqpUrl"
  | "http"
  | "database"
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
  /** How long a repeated Idempotency-Key waits for its first request (5 s; the fuzzer waits less). */
  idempotencyWaitMs?: number;
  /** Replaces the AMQP broker that `settings.amqpUrl` names (events are on with either). */
  broker?: Broker;
  /** The relay's timings (tests shorten them). */
  relay?: Pick<RelayDeps, "pollMs" | "standbyMs" | "backoff" | "batchSize">;
}

/** A pool of another replica: its own pulls at once, and its own page stores (a test may watch them). */
export type PoolOptions = { concurrency?: number; pageStores?: Semaphore };

export interface Service extends HttpApp {
  metrics: MetricsRegistry;
  /** This process's pull workers. */
  pool: PullPool;
  /** What Deno.cron runs every minute: reclaim lost pulls, run what is due, prune history. */
  sweep(): ReturnType<typeof sweepPulls>;
  /** Another pool on the same database and vendors, as another replica would run. */
  newPool(options?: PoolOptions): PullPool;
  /** The outbox relay when events are on (MATCHER_AMQP_URL); started by the caller. */
  relay?: Relay;
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
    { maxPagesPerWalk: settings.pulls.maxPagesPerWalk },
  );
  const observePull = pullMetrics(metrics, { sql, now });
  // Events: with a broker, every writer appends to the outbox and the relay publishes it.
  const broker = parts.broker ??
    (settings.amqpUrl ? connectAmqpBroker({ url: settings.amqpUrl, logger }) : undefined);
  const relay = broker
    ? createRelay({
      sql,
      broker,
      logger,
      now,
      observe: eventMetrics(metrics, { sql, now }),
      random: parts.random,
      ...parts.relay,
    })
    : undefined;
  const outbox: Outbox | undefined = relay ? { written: () => relay.wake() } : undefined;
  const observeSkipped = skippedTransactionMetrics(metrics);
  const newPool = (options: PoolOptions = {}) =>
    createPullPool({
      sql,
      keyRing,
      aggregators,
      logger,
      now,
      leaseMs: settings.pulls.leaseMs,
      maxAttempts: settings.pulls.maxAttempts,
      random: parts.random,
      observeSkipped,
      pageStores: options.pageStores,
      outbox,
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
  const http = createApp({
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
    rateLimiter: createRateLimiter(kv, now),
    testLimits: {
      perConnection: settings.connectionTestsPerMinute,
      perTenant: settings.connectionTestsPerTenantPerMinute,
    },
    webhooks: createWebhookIntake({
      sql,
      tokens: tokenCache,
      now,
      onPullQueued,
      webhookPullDelayMs: settings.pulls.webhookDelayMs,
      webhookPullMinIntervalMs: settings.pulls.webhookMinIntervalMs,
      idsPerAccount: settings.pulls.idsPerAccount,
      waitMs: settings.database.waitMs,
      maxPending: settings.database.maxPendingWebhooks,
      limits: tokenLimits,
    }),
    observeWebhook: webhookMetrics(metrics),
    quota,
    requestLimits: {
      bodyTimeoutMs: settings.http.bodyTimeoutMs,
      maxJsonDepth: settings.http.maxJsonDepth,
      waitMs: settings.database.waitMs,
      liveTestWaitMs: settings.database.waitMs + settings.vendorHttp.timeoutMs,
    },
    devSignIn: parts.devSignIn,
    idempotency: await createIdempotency({
      sql,
      keyRing,
      sealKeys: settings.sealKeys,
      now,
      logger,
      waitMs: parts.idempotencyWaitMs,
      takeoverMs: takeoverBound(settings.vendorHttp.timeoutMs),
    }),
    outbox,
    broker,
  });
  const sweep = () =>
    sweepPulls({
      sql,
      logger,
      now,
      maxAttempts: settings.pulls.maxAttempts,
      retentionMs: settings.pulls.retentionMs,
      pool,
      outbox,
      pruneEvents: outbox ? (before) => pruneSentEvents(sql, before) : undefined,
    });
  const closeLimits = async () => {
    await tokenLimits?.close();
    await quota.close();
  };
  return { ...http, metrics, pool, sweep, newPool, relay, closeLimits };
}
