// Starts the real app over real HTTP on a fresh database, with keys, tokens and captured logs.
import { SignJWT } from "jose";
import { createApp } from "../../src/app.ts";
import type { Config } from "../../src/config/config.ts";
import {
  type ConnectorRegistry,
  createConnectorRegistry,
  registerBuiltInConnectors,
} from "../../src/connectors/registry.ts";
import { createKeyRing } from "../../src/crypto/seal.ts";
import { migrate } from "../../src/db/migrate.ts";
import { createPool, type Sql } from "../../src/db/pool.ts";
import { createTenantVerifier } from "../../src/http/auth.ts";
import { jsonLogger } from "../../src/http/logger.ts";
import { createRateLimiter } from "../../src/http/rate_limit.ts";
import { type Aggregators, createAggregators } from "../../src/vendors/clients.ts";
import { createVendorHttp, type VendorHttpOptions } from "../../src/vendors/vendor_http.ts";
import { processMetrics } from "../../src/metrics/process_metrics.ts";
import { pullMetrics } from "../../src/metrics/pull_metrics.ts";
import { createMetricsRegistry } from "../../src/metrics/registry.ts";
import { vendorMetrics } from "../../src/metrics/vendor_metrics.ts";
import { createTestDatabase } from "./database.ts";
import { sweepPulls } from "../../src/pulls/sweep.ts";
import { createPullPool, type PullPool } from "../../src/pulls/worker.ts";

export interface HarnessOptions {
  auth?: Partial<Config["auth"]>;
  egress?: Partial<Config["egress"]>;
  connectors?: ConnectorRegistry;
  sealKeys?: Config["sealKeys"];
  /** Vendor HTTP limits and resolver; short timeouts by default so tests of hangs stay quick. */
  vendorHttp?: Partial<Omit<VendorHttpOptions, "egress">>;
  connectionTestsPerMinute?: number;
  /** Replaces the real vendor clients (a test of what happens when they break unexpectedly). */
  aggregators?: Aggregators;
  /** The clock of the rate limiter, the vendor clients, webhook receipts and pulls. */
  now?: () => number;
  /** The pull worker pool; by default it starts a job as soon as one is queued. */
  pulls?: {
    concurrency?: number;
    maxAttempts?: number;
    leaseMs?: number;
    /** How long a pull a webhook queued waits; 0 by default (the service's default is 2 s). */
    webhookDelayMs?: number;
    /** How long webhook events and finished pulls are kept; 30 days by default. */
    retentionMs?: number;
    /** False: queued jobs wait for `pool.drain()` or `sweep()`, so a test decides when they run. */
    wake?: boolean;
    random?: () => number;
  };
  /** Turns /metrics on, behind this bearer token; off by default, as in the service. */
  metricsToken?: string;
  /** The base of minted webhook URLs; by default the served base URL (for buildTestApp alone,
   * the service's default http://localhost:8080). */
  publicUrl?: string;
  /** Offers the console's development sign-in with the harness secret, as development mode does. */
  devSignIn?: boolean;
}

export interface Harness {
  app: ReturnType<typeof createApp>;
  baseUrl: string;
  databaseUrl: string;
  sql: Sql;
  /** The app's KV (in memory), for tests that look at what is stored. */
  kv: Deno.Kv;
  sealKeys: Config["sealKeys"];
  /** Every log line the app wrote, as text. */
  logs: string[];
  /** The app's pull worker pool. */
  pool: PullPool;
  /** The retry sweep Deno.cron runs every minute, on the harness clock. */
  sweep(): ReturnType<typeof sweepPulls>;
  /** A second worker pool on the same database and vendors, as another replica would run. */
  newPool(options?: { concurrency?: number }): PullPool;
  /** A token for `tenantId` (HS256 with the harness secret), with extra claims merged in; valid for
   * 10 minutes unless the claims give their own `exp` (in seconds since the epoch). */
  token(tenantId: string, claims?: Record<string, unknown>): Promise<string>;
  /** fetch against the served app, as `tenantId` when given. */
  request(
    path: string,
    init?: RequestInit & { tenant?: string; json?: unknown },
  ): Promise<Response>;
  close(): Promise<void>;
}

export function randomKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

/** The app over `sql` and `kv`, wired as main.ts wires it, with test keys and captured logs. */
export async function buildTestApp(sql: Sql, kv: Deno.Kv, options: HarnessOptions = {}) {
  const secret = randomKey();
  const sealKeys = options.sealKeys ?? [{ id: "k1", key: randomKey() }];
  const logs: string[] = [];
  const egress = { allowHosts: [], allowHttp: false, ...options.egress };
  const now = options.now ?? Date.now;
  const metrics = createMetricsRegistry();
  processMetrics(metrics);
  const http = createVendorHttp({
    egress,
    connectTimeoutMs: 2_000,
    timeoutMs: 4_000,
    maxResponseBytes: 8 * 1024 * 1024,
    observe: vendorMetrics(metrics),
    ...options.vendorHttp,
  });
  const keyRing = await createKeyRing(sealKeys);
  const aggregators = options.aggregators ?? createAggregators(http, now);
  const logger = jsonLogger((line) => logs.push(line));
  const pulls = options.pulls ?? {};
  const maxAttempts = pulls.maxAttempts ?? 8;
  const observePull = pullMetrics(metrics, { sql, now });
  const newPool = (o: { concurrency?: number } = {}) =>
    createPullPool({
      sql,
      keyRing,
      aggregators,
      logger,
      now,
      leaseMs: pulls.leaseMs ?? 60_000,
      maxAttempts,
      random: pulls.random,
    }, { concurrency: o.concurrency ?? pulls.concurrency ?? 4, observe: observePull });
  const pool = newPool();
  const retentionMs = pulls.retentionMs ?? 30 * 86_400_000;
  const sweep = () => sweepPulls({ sql, logger, now, maxAttempts, retentionMs, pool });
  const app = createApp({
    sql,
    kv,
    keyRing,
    verifyTenant: createTenantVerifier({ secret, ...options.auth }),
    connectors: options.connectors ?? registerBuiltInConnectors(createConnectorRegistry()),
    egress,
    aggregators,
    testLimiter: createRateLimiter(kv, {
      limit: options.connectionTestsPerMinute ?? 10,
      windowMs: 60_000,
      now,
    }),
    logger,
    metrics,
    metricsToken: options.metricsToken,
    now,
    onPullQueued: () => {
      if (pulls.wake !== false) pool.wake();
    },
    publicUrl: options.publicUrl ?? "http://localhost:8080",
    webhookPullDelayMs: pulls.webhookDelayMs ?? 0,
    devSignIn: options.devSignIn ? { secret } : undefined,
  });
  return { app, secret, sealKeys, logs, pool, sweep, newPool };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const db = await createTestDatabase();
  const sql = createPool(db.url, { max: db.maxConnections });
  await migrate(sql);
  const kv = await Deno.openKv(":memory:");
  // The default publicUrl is the served address, known only once the server listens, so the
  // server starts first; no request can arrive before the app below exists, as nobody has the URL.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => app.fetch(request, info),
  );
  const baseUrl = `http://127.0.0.1:${server.addr.port}`;
  const { app, secret, sealKeys, logs, pool, sweep, newPool } = await buildTestApp(sql, kv, {
    ...options,
    publicUrl: options.publicUrl ?? baseUrl,
  });

  const token = (tenantId: string, claims: Record<string, unknown> = {}) =>
    new SignJWT({ tenant_id: tenantId, ...claims })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt()
      .setExpirationTime(typeof claims.exp === "number" ? claims.exp : "10m")
      .sign(secret);

  return {
    app,
    baseUrl,
    databaseUrl: db.url,
    sql,
    kv,
    sealKeys,
    logs,
    pool,
    sweep,
    newPool,
    token,
    async request(path, init = {}) {
      const { tenant, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (tenant) headers.set("Authorization", `Bearer ${await token(tenant)}`);
      if (json !== undefined) headers.set("Content-Type", "application/json");
      return fetch(`${baseUrl}${path}`, {
        ...rest,
        headers,
        body: json !== undefined ? JSON.stringify(json) : rest.body,
      });
    },
    async close() {
      await server.shutdown();
      await pool.stop();
      await sql.end({ timeout: 5 });
      kv.close();
      await db.drop();
    },
  };
}

/** A fresh tenant id. */
export const newTenant = () => crypto.randomUUID();

/** The guide's create body, with overrides. */
export function pluggyBody(overrides: Record<string, unknown> = {}) {
  return {
    vendor: "pluggy",
    configName: "pluggy-main",
    baseUrl: "https://api.pluggy.ai",
    accountRef: "a1b2c3d4-5678-90ab-cdef-1234567890ab",
    clientId: "client-id-1",
    secret: "client-secret-1",
    ...overrides,
  };
}
