// Starts the real app over real HTTP on a fresh database, with keys, tokens and captured logs.
import { SignJWT } from "jose";
import type { Config } from "../../src/config/config.ts";
import type { ConnectorRegistry } from "../../src/connectors/connectors.service.ts";
import { migrate } from "../../src/db/migrate.ts";
import { serve } from "../../src/http/serve.ts";
import { createPool, type Sql } from "../../src/db/pool.ts";
import { jsonLogger } from "../../src/lib/logger.ts";
import type { PullPool } from "../../src/pulls/pull_pool.ts";
import type { Broker } from "../../src/events/broker.ts";
import type { Relay } from "../../src/events/relay.service.ts";
import { createService, type Service, type ServiceParts } from "../../src/service.ts";
import type { Aggregators } from "../../src/vendors/clients.ts";
import { createTestDatabase } from "./database.ts";

export interface HarnessOptions {
  auth?: Partial<Config["auth"]>;
  egress?: Partial<Config["egress"]>;
  connectors?: ConnectorRegistry;
  sealKeys?: Config["sealKeys"];
  /** Vendor HTTP limits; short timeouts by default so tests of hangs stay quick. */
  vendorHttp?: Partial<Config["vendorHttp"]>;
  connectionTestsPerMinute?: number;
  /** Live connection tests a tenant may run a minute, over all its connections; 30 by default. */
  connectionTestsPerTenantPerMinute?: number;
  /**
   * Requests a minute per tenant and class, and deliveries per webhook token; every limit is off
   * (0) by default, as suites send thousands of requests as one tenant.
   */
  rateLimits?: {
    perTenant?: Partial<Config["rateLimits"]["perTenant"]>;
    perWebhookToken?: number;
  };
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
    /** How far apart a connection's webhook pulls start; 0 by default (the service's is 10 s). */
    webhookMinIntervalMs?: number;
    /** How long webhook events and finished pulls are kept; 30 days by default. */
    retentionMs?: number;
    /** Ids to fetch again one account of a queued pull may hold; 1,000 by default. */
    idsPerAccount?: number;
    /** Pages one vendor walk may read; the service's 10,000 by default. */
    maxPagesPerWalk?: number;
    /** False: queued jobs wait for `pool.drain()` or `sweep()`, so a test decides when they run. */
    wake?: boolean;
    random?: () => number;
  };
  /** How long the receiver trusts a token it read from KV; 2 s by default, as in the service. */
  webhookTokenCacheMs?: number;
  /** Offers the console's development sign-in (with the harness secret); off by default. */
  devSignIn?: boolean;
  /** Turns /metrics on, behind this bearer token; off by default, as in the service. */
  metricsToken?: string;
  /** The KV file (shared by replicas); in memory by default. */
  kvPath?: string;
  /** Runs as another replica of that harness: on its database, which it drops when it closes. */
  replicaOf?: { databaseUrl: string };
  /** The base of minted webhook URLs; by default the served base URL (for buildTestApp alone,
   * the service's default http://localhost:8080). */
  publicUrl?: string;
  /** How long a repeated Idempotency-Key waits for its first request; 5 s as in the service. */
  idempotencyWaitMs?: number;
  /** Events on: the broker's URL (MATCHER_AMQP_URL) or a broker in its place, and the relay's
   * timings; the relay starts with the harness unless `start` is false. */
  events?: {
    amqpUrl?: string;
    broker?: Broker;
    relay?: ServiceParts["relay"];
    start?: boolean;
  };
  /** Request limits; the service's defaults, but for a database wait of 30 s (a loaded test
   * machine is no hung database) and 10,000 pending webhooks. */
  http?: Partial<Config["http"]>;
  database?: Partial<Config["database"]>;
}

export interface Harness {
  app: Service["app"];
  /** The routes served before Hono (the webhook receiver). */
  direct: Service["direct"];
  /** The HS256 secret of the harness's tokens (another app on the same data signs with it). */
  secret: Uint8Array;
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
  sweep: Service["sweep"];
  /** A second worker pool on the same database and vendors, as another replica would run. */
  newPool: Service["newPool"];
  /** The outbox relay, when `events` is given. */
  relay?: Relay;
  /** The app's metrics registry. */
  metrics: Service["metrics"];
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

/** The service over `sql` and `kv`, built as main.ts builds it, with test keys and captured logs. */
export async function buildTestApp(
  sql: Sql,
  kv: Deno.Kv,
  options: HarnessOptions & { secret?: Uint8Array } = {},
) {
  const secret = options.secret ?? randomKey();
  const sealKeys = options.sealKeys ?? [{ id: "k1", key: randomKey() }];
  const logs: string[] = [];
  const pulls = options.pulls ?? {};
  const service: Service = await createService({
    settings: {
      auth: { secret, ...options.auth },
      sealKeys,
      egress: { allowHosts: [], allowHttp: false, ...options.egress },
      vendorHttp: {
        connectTimeoutMs: 2_000,
        timeoutMs: 4_000,
        maxResponseBytes: 8 * 1024 * 1024,
        ...options.vendorHttp,
      },
      connectionTestsPerMinute: options.connectionTestsPerMinute ?? 10,
      connectionTestsPerTenantPerMinute: options.connectionTestsPerTenantPerMinute ?? 30,
      rateLimits: {
        perTenant: {
          reads: 0,
          writes: 0,
          liveTests: 0,
          pulls: 0,
          ...options.rateLimits?.perTenant,
        },
        perWebhookToken: options.rateLimits?.perWebhookToken ?? 0,
      },
      metricsToken: options.metricsToken,
      webhookTokenCacheMs: options.webhookTokenCacheMs ?? 2_000,
      amqpUrl: options.events?.amqpUrl,
      publicUrl: options.publicUrl ?? "http://localhost:8080",
      pulls: {
        concurrency: pulls.concurrency ?? 4,
        maxAttempts: pulls.maxAttempts ?? 8,
        leaseMs: pulls.leaseMs ?? 60_000,
        retentionMs: pulls.retentionMs ?? 30 * 86_400_000,
        webhookDelayMs: pulls.webhookDelayMs ?? 0,
        webhookMinIntervalMs: pulls.webhookMinIntervalMs ?? 0,
        idsPerAccount: pulls.idsPerAccount ?? 1_000,
        maxPagesPerWalk: pulls.maxPagesPerWalk ?? 10_000,
      },
      http: { headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000, maxJsonDepth: 64, ...options.http },
      database: {
        statementTimeoutMs: 0,
        waitMs: 30_000,
        maxPendingWebhooks: 10_000,
        ...options.database,
      },
    },
    sql,
    kv,
    logger: jsonLogger((line) => logs.push(line)),
    now: options.now ?? Date.now,
    aggregators: options.aggregators,
    connectors: options.connectors,
    random: pulls.random,
    wakeOnQueue: pulls.wake,
    devSignIn: options.devSignIn ? { secret } : undefined,
    idempotencyWaitMs: options.idempotencyWaitMs,
    broker: options.events?.broker,
    relay: options.events?.relay,
  });
  return { ...service, secret, sealKeys, logs };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  // Another replica shares the first one's database, which the first one drops.
  const db = options.replicaOf
    ? { url: options.replicaOf.databaseUrl, maxConnections: 10, drop: () => Promise.resolve() }
    : await createTestDatabase();
  const sql = createPool(db.url, { max: db.maxConnections });
  await migrate(sql);
  const kv = await Deno.openKv(options.kvPath ?? ":memory:");
  // The default publicUrl is the served address, known only once the server listens, so the
  // server starts first; no request can arrive before the app below exists, as nobody has the URL.
  // Served as main.ts serves it (node:http with its header and request timeouts).
  const headersTimeoutMs = options.http?.headersTimeoutMs ?? 10_000;
  const server = await serve({
    fetch: (request) => fetchApp(request),
    get direct() {
      return direct;
    },
  }, {
    hostname: "127.0.0.1",
    port: 0,
    headersTimeoutMs,
    requestTimeoutMs: headersTimeoutMs + (options.http?.bodyTimeoutMs ?? 10_000),
  });
  const baseUrl = `http://127.0.0.1:${server.addr.port}`;
  const {
    app,
    direct,
    fetch: fetchApp,
    secret,
    sealKeys,
    logs,
    pool,
    sweep,
    newPool,
    relay,
    metrics,
    closeLimits,
  } = await buildTestApp(
    sql,
    kv,
    { ...options, publicUrl: options.publicUrl ?? baseUrl },
  );
  if (options.events?.start !== false) relay?.start();

  const token = (tenantId: string, claims: Record<string, unknown> = {}) =>
    new SignJWT({ tenant_id: tenantId, ...claims })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt()
      .setExpirationTime(typeof claims.exp === "number" ? claims.exp : "10m")
      .sign(secret);

  return {
    app,
    direct,
    secret,
    baseUrl,
    databaseUrl: db.url,
    sql,
    kv,
    sealKeys,
    logs,
    pool,
    sweep,
    newPool,
    relay,
    metrics,
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
      await closeLimits();
      await pool.stop();
      await relay?.stop();
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
