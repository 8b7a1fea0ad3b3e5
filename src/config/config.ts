// The environment, parsed and checked once at start into the typed Config passed to everything else.
import { join } from "node:path";
import { z } from "zod";
import { denoExportsSpans } from "./deno_tracing.ts";
import { parseSealKeys, type SealKey } from "./seal_keys.ts";

export { parseSealKeys, type SealKey };

export interface Config {
  env: "development" | "production";
  host: string;
  port: number;
  /** Postgres URL; undefined means the embedded PGlite database in `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  /** Deno KV file, `:memory:` or KV Connect URL; undefined opens the platform's KV (Deno Deploy). */
  kvPath?: string;
  auth: {
    secret?: Uint8Array;
    jwksUrl?: URL;
    issuer?: string;
    audience?: string;
    /** The oldest token accepted, by its `iat` (then required); undefined: no limit. */
    maxAgeSeconds?: number;
    /** After a failed JWKS fetch, how long requests answer 503 without fetching; undefined: 5. */
    jwksRetrySeconds?: number;
  };
  /** The seal key ring; the first key is the primary one, used for every new seal. */
  sealKeys: SealKey[];
  publicUrl: string;
  egress: { allowHosts: string[]; allowHttp: boolean };
  /** Limits on every call to a vendor's API. */
  vendorHttp: { connectTimeoutMs: number; timeoutMs: number; maxResponseBytes: number };
  /** Live connection tests allowed per connection per minute (they cost the tenant vendor quota). */
  connectionTestsPerMinute: number;
  /** Live connection tests a tenant may run per minute over all its connections, re-created ones too. */
  connectionTestsPerTenantPerMinute: number;
  /** Requests a minute, 0 for no limit: each tenant's per class of operation, each webhook token's. */
  rateLimits: RateLimits;
  /** The bearer token /metrics requires; undefined turns /metrics off. */
  metricsToken?: string;
  /** Matcher's RabbitMQ (`amqp://` or `amqps://`); undefined turns events and their outbox off. */
  amqpUrl?: string;
  /**
   * How long the receiver trusts a webhook token it read from KV: the most time a revocation takes
   * to reach every replica (the replica that revokes forgets the token at once).
   */
  webhookTokenCacheMs: number;
  /**
   * Pull jobs: how many run at once in this process, attempts before a job is dead, and how long
   * a claim holds without progress before the sweep gives the job to another worker; how long
   * webhook events and finished pulls are kept; how long a pull a webhook queued waits for the
   * other events of the same vendor sync.
   */
  pulls: {
    concurrency: number;
    maxAttempts: number;
    leaseMs: number;
    retentionMs: number;
    webhookDelayMs: number;
    /** How far apart a connection's webhook pulls start at least (MATCHER_PULL_WEBHOOK_MIN_INTERVAL_MS). */
    webhookMinIntervalMs: number;
    /**
     * Transaction ids to fetch again one account of a queued pull may hold before it is walked
     * whole instead.
     */
    idsPerAccount: number;
    /** Pages one walk of a vendor list may read before the pull fails (`too_many_pages`). */
    maxPagesPerWalk: number;
  };
  /**
   * What a client may take to send a request: time for its headers (0: no bound, served by
   * Deno.serve) and for its body, and how deeply a JSON body may nest.
   */
  http: { headersTimeoutMs: number; bodyTimeoutMs: number; maxJsonDepth: number };
  /**
   * Postgres's statement_timeout on every connection; how long a request waits for the database
   * before answering 503; how many webhook deliveries may wait for the next group commit.
   */
  database: { statementTimeoutMs: number; waitMs: number; maxPendingWebhooks: number };
}

/**
 * Per-minute limits shared by every replica; 0 turns one off. The tenant's classes are those of
 * src/http/route_classes.ts.
 */
export interface RateLimits {
  perTenant: { reads: number; writes: number; liveTests: number; pulls: number };
  perWebhookToken: number;
}

/** Settings that development mode generates once into the data dir when they are not given. */
export interface DevSecrets {
  jwtSecret: string;
  sealKeys: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

/** A variable as the environment holds it: trimmed, and blank counts as unset. */
function setting<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (typeof v === "string" ? v.trim() : v) || undefined, schema);
}

const text = setting(z.string().optional());

/** A whole number of at least `min` (1 unless told), written in decimal digits only. */
function count(name: string, min = 1) {
  const message = `${name} must be a whole number${min > 0 ? " above 0" : ""}`;
  return z.string().refine((t) => /^\d{1,10}$/.test(t) && Number(t) >= min, message)
    .transform(Number);
}

function whole(name: string, fallback: number, min = 1) {
  return setting(count(name, min).default(fallback));
}

function isPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65535;
}

function isHttpUrl(text: string): boolean {
  return /^https?:$/.test(URL.parse(text)?.protocol ?? "");
}

function httpUrl(name: string) {
  return z.string().refine(isHttpUrl, `${name} must be an absolute http(s) URL`);
}

const amqpUrl = z.string().regex(
  /^amqps?:\/\/[^/\s]/,
  "MATCHER_AMQP_URL must be an amqp:// or amqps:// URL",
);

const postgresUrl = z.string().regex(
  /^postgres(ql)?:\/\//,
  "DATABASE_URL must be a postgres:// or postgresql:// URL",
);

const hostPort = z.string().refine((h) => {
  const match = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d+))?$/.exec(h);
  return match !== null && (match[1] === undefined || isPort(match[1]));
}, { error: (issue) => `MATCHER_EGRESS_ALLOW_HOSTS entry "${issue.input}" is not host[:port]` });

/** The key ring's text into keys; each problem is its own issue, and none echoes key material. */
const keyRing = z.string().transform((text, ctx) => {
  const problems: string[] = [];
  const keys = parseSealKeys(text, problems);
  for (const message of problems) ctx.issues.push({ code: "custom", message, input: undefined });
  return keys;
});

/** Each variable by its name, with its default and the problem it reports on its own. */
const settings = z.object({
  MATCHER_ENV: setting(
    z.enum(["development", "production"], {
      error: (issue) => `MATCHER_ENV must be "development" or "production", not "${issue.input}"`,
    }).default("development"),
  ),
  PORT: setting(
    z.string().refine(isPort, "PORT must be a whole number from 0 to 65535").transform(Number)
      .default(8080),
  ),
  HOST: setting(z.string().default("127.0.0.1")),
  MATCHER_DATA_DIR: setting(z.string().default(".matcher")),
  DATABASE_URL: setting(postgresUrl.optional()),
  DENO_KV_PATH: text,
  DENO_DEPLOY: text,
  DENO_DEPLOYMENT_ID: text,
  AUTH_JWKS_URL: setting(httpUrl("AUTH_JWKS_URL").transform((t) => new URL(t)).optional()),
  AUTH_JWT_SECRET: text,
  AUTH_JWT_ISSUER: text,
  AUTH_JWT_AUDIENCE: text,
  AUTH_JWT_MAX_AGE_SECONDS: setting(count("AUTH_JWT_MAX_AGE_SECONDS").optional()),
  AUTH_JWKS_RETRY_SECONDS: setting(count("AUTH_JWKS_RETRY_SECONDS").optional()),
  MATCHER_SEAL_KEYS: setting(keyRing.optional()),
  MATCHER_PUBLIC_URL: setting(
    z.string().transform((t) => t.replace(/\/+$/, "")).pipe(httpUrl("MATCHER_PUBLIC_URL"))
      .optional(),
  ),
  MATCHER_EGRESS_ALLOW_HTTP: setting(
    z.enum(["true", "false"], { error: 'MATCHER_EGRESS_ALLOW_HTTP must be "true" or "false"' })
      .transform((v) => v === "true").default(false),
  ),
  MATCHER_EGRESS_ALLOW_HOSTS: setting(
    z.string().transform((t) => t.split(",").map((h) => h.trim().toLowerCase()).filter(Boolean))
      .pipe(z.array(hostPort)).default(() => []),
  ),
  MATCHER_VENDOR_CONNECT_TIMEOUT_MS: whole("MATCHER_VENDOR_CONNECT_TIMEOUT_MS", 5_000),
  MATCHER_VENDOR_TIMEOUT_MS: whole("MATCHER_VENDOR_TIMEOUT_MS", 30_000),
  MATCHER_VENDOR_MAX_RESPONSE_BYTES: whole("MATCHER_VENDOR_MAX_RESPONSE_BYTES", 32 * 1024 * 1024),
  MATCHER_CONNECTION_TESTS_PER_MINUTE: whole("MATCHER_CONNECTION_TESTS_PER_MINUTE", 10),
  MATCHER_CONNECTION_TESTS_PER_TENANT_PER_MINUTE: whole(
    "MATCHER_CONNECTION_TESTS_PER_TENANT_PER_MINUTE",
    30,
  ),
  MATCHER_RATE_LIMIT_READS_PER_MINUTE: whole("MATCHER_RATE_LIMIT_READS_PER_MINUTE", 1_200, 0),
  MATCHER_RATE_LIMIT_WRITES_PER_MINUTE: whole("MATCHER_RATE_LIMIT_WRITES_PER_MINUTE", 300, 0),
  MATCHER_RATE_LIMIT_LIVE_TESTS_PER_MINUTE: whole(
    "MATCHER_RATE_LIMIT_LIVE_TESTS_PER_MINUTE",
    60,
    0,
  ),
  MATCHER_RATE_LIMIT_PULLS_PER_MINUTE: whole("MATCHER_RATE_LIMIT_PULLS_PER_MINUTE", 120, 0),
  MATCHER_WEBHOOK_RATE_PER_TOKEN_PER_MINUTE: whole(
    "MATCHER_WEBHOOK_RATE_PER_TOKEN_PER_MINUTE",
    600,
    0,
  ),
  MATCHER_PULL_CONCURRENCY: whole("MATCHER_PULL_CONCURRENCY", 4),
  MATCHER_PULL_MAX_ATTEMPTS: whole("MATCHER_PULL_MAX_ATTEMPTS", 8),
  MATCHER_PULL_LEASE_SECONDS: whole("MATCHER_PULL_LEASE_SECONDS", 120),
  MATCHER_RETENTION_DAYS: whole("MATCHER_RETENTION_DAYS", 30),
  MATCHER_PULL_WEBHOOK_DELAY_MS: whole("MATCHER_PULL_WEBHOOK_DELAY_MS", 2_000, 0),
  MATCHER_PULL_WEBHOOK_MIN_INTERVAL_MS: whole("MATCHER_PULL_WEBHOOK_MIN_INTERVAL_MS", 10_000, 0),
  MATCHER_PULL_IDS_PER_ACCOUNT: whole("MATCHER_PULL_IDS_PER_ACCOUNT", 1_000),
  MATCHER_PULL_MAX_PAGES_PER_WALK: whole("MATCHER_PULL_MAX_PAGES_PER_WALK", 10_000),
  MATCHER_WEBHOOK_TOKEN_CACHE_MS: whole("MATCHER_WEBHOOK_TOKEN_CACHE_MS", 2_000, 0),
  MATCHER_METRICS_TOKEN: text,
  MATCHER_HTTP_HEADERS_TIMEOUT_MS: whole("MATCHER_HTTP_HEADERS_TIMEOUT_MS", 10_000, 0),
  MATCHER_HTTP_BODY_TIMEOUT_MS: whole("MATCHER_HTTP_BODY_TIMEOUT_MS", 10_000),
  MATCHER_JSON_MAX_DEPTH: whole("MATCHER_JSON_MAX_DEPTH", 64),
  MATCHER_DB_STATEMENT_TIMEOUT_MS: whole("MATCHER_DB_STATEMENT_TIMEOUT_MS", 30_000, 0),
  MATCHER_DB_WAIT_MS: whole("MATCHER_DB_WAIT_MS", 4_000),
  MATCHER_WEBHOOK_MAX_PENDING: whole("MATCHER_WEBHOOK_MAX_PENDING", 1_000),
  MATCHER_AMQP_URL: setting(amqpUrl.optional()),
  // Untrimmed: Deno reads these as they are, and so must the check of its tracing.
  OTEL_DENO: z.string().optional(),
  OTEL_DENO_TRACING: z.string().optional(),
  OTEL_SDK_DISABLED: z.string().optional(),
  MATCHER_TRACES_REDACTED: text,
});

type Settings = z.output<typeof settings>;
type Ctx = z.RefinementCtx<Settings>;

function problem(ctx: Ctx, message: string): void {
  ctx.issues.push({ code: "custom", message, input: undefined });
}

/**
 * A setting's value, or undefined when it failed its own check: that failure is reported once,
 * and the rules over it skip it rather than pile on.
 */
function valid<K extends keyof Settings>(s: Settings, ctx: Ctx, name: K): Settings[K] | undefined {
  return ctx.issues.some((issue) => issue.path?.[0] === name) ? undefined : s[name];
}

/** Rules in every mode: settings that must agree, and the key ring every mode needs. */
function settingsAgree(s: Settings, ctx: Ctx): void {
  if (s.AUTH_JWT_SECRET && valid(s, ctx, "AUTH_JWKS_URL")) {
    problem(ctx, "set AUTH_JWT_SECRET or AUTH_JWKS_URL, not both");
  }
  const connect = valid(s, ctx, "MATCHER_VENDOR_CONNECT_TIMEOUT_MS");
  const total = valid(s, ctx, "MATCHER_VENDOR_TIMEOUT_MS");
  if (connect !== undefined && total !== undefined && connect > total) {
    problem(ctx, "MATCHER_VENDOR_CONNECT_TIMEOUT_MS must not exceed MATCHER_VENDOR_TIMEOUT_MS");
  }
  if (s.MATCHER_ENV !== "production" && !s.MATCHER_SEAL_KEYS) {
    problem(ctx, "MATCHER_SEAL_KEYS is not set");
  }
}

/** What production refuses: missing secrets and storage, weak secrets, plain http, leaky traces. */
function productionRules(s: Settings, ctx: Ctx): void {
  if (s.MATCHER_ENV !== "production") return;
  if (!s.DATABASE_URL) {
    problem(
      ctx,
      "DATABASE_URL is required in production (the embedded database is for development)",
    );
  }
  const jwksUrl = valid(s, ctx, "AUTH_JWKS_URL");
  if (jwksUrl && jwksUrl.protocol !== "https:") {
    problem(ctx, "AUTH_JWKS_URL must be https in production");
  }
  if (!s.AUTH_JWT_SECRET && !jwksUrl) {
    problem(ctx, "AUTH_JWT_SECRET or AUTH_JWKS_URL is required in production");
  }
  if (s.AUTH_JWT_SECRET && s.AUTH_JWT_SECRET.length < 32) {
    problem(ctx, "AUTH_JWT_SECRET must be at least 32 characters in production");
  }
  if (!s.MATCHER_SEAL_KEYS) problem(ctx, "MATCHER_SEAL_KEYS is required in production");
  const publicUrl = s.MATCHER_PUBLIC_URL === undefined
    ? defaultPublicUrl(valid(s, ctx, "PORT"))
    : valid(s, ctx, "MATCHER_PUBLIC_URL");
  if (publicUrl !== undefined && new URL(publicUrl).protocol !== "https:") {
    problem(ctx, "MATCHER_PUBLIC_URL must be an https URL in production");
  }
  if (valid(s, ctx, "MATCHER_EGRESS_ALLOW_HTTP") === true) {
    problem(ctx, "MATCHER_EGRESS_ALLOW_HTTP=true is refused in production");
  }
  if (s.MATCHER_METRICS_TOKEN && s.MATCHER_METRICS_TOKEN.length < 32) {
    problem(ctx, "MATCHER_METRICS_TOKEN must be at least 32 characters in production");
  }
  // Deno's own tracing records every request's URL (url.full, url.path) in its server span, and a
  // webhook URL holds its token; no API can take an attribute back off that span.
  if (denoExportsSpans(s) && s.MATCHER_TRACES_REDACTED !== "true") {
    problem(
      ctx,
      "OTEL_DENO=true traces every request with its URL, and a webhook URL holds its token: " +
        "set OTEL_DENO_TRACING=false (metrics and logs only), or have the collector redact " +
        "url.full and url.path of /v1/discovery/webhooks/ spans and set MATCHER_TRACES_REDACTED=true",
    );
  }
}

function defaultPublicUrl(port: number | undefined): string | undefined {
  return port === undefined ? undefined : `http://localhost:${port}`;
}

/**
 * Deno Deploy sets DENO_DEPLOYMENT_ID (Classic and the current platform alike); the current
 * platform also sets DENO_DEPLOY, documented as `true` and announced as `1`.
 */
function onDenoDeploy(s: Settings): boolean {
  return s.DENO_DEPLOYMENT_ID !== undefined || /^(true|1)$/i.test(s.DENO_DEPLOY ?? "");
}

function toConfig(s: Settings): Config {
  return {
    env: s.MATCHER_ENV,
    host: s.HOST,
    port: s.PORT,
    databaseUrl: s.DATABASE_URL,
    dataDir: s.MATCHER_DATA_DIR,
    // Deno Deploy reserves DENO_* settings and connects Deno.openKv() without a path to the app's
    // own KV; a file there would be private to one short-lived instance.
    kvPath: s.DENO_KV_PATH ??
      (onDenoDeploy(s) ? undefined : join(s.MATCHER_DATA_DIR, "kv.sqlite3")),
    auth: {
      secret: s.AUTH_JWT_SECRET ? new TextEncoder().encode(s.AUTH_JWT_SECRET) : undefined,
      jwksUrl: s.AUTH_JWKS_URL,
      issuer: s.AUTH_JWT_ISSUER,
      audience: s.AUTH_JWT_AUDIENCE,
      maxAgeSeconds: s.AUTH_JWT_MAX_AGE_SECONDS,
      jwksRetrySeconds: s.AUTH_JWKS_RETRY_SECONDS,
    },
    sealKeys: s.MATCHER_SEAL_KEYS ?? [],
    publicUrl: s.MATCHER_PUBLIC_URL ?? `http://localhost:${s.PORT}`,
    egress: { allowHosts: s.MATCHER_EGRESS_ALLOW_HOSTS, allowHttp: s.MATCHER_EGRESS_ALLOW_HTTP },
    vendorHttp: {
      connectTimeoutMs: s.MATCHER_VENDOR_CONNECT_TIMEOUT_MS,
      timeoutMs: s.MATCHER_VENDOR_TIMEOUT_MS,
      maxResponseBytes: s.MATCHER_VENDOR_MAX_RESPONSE_BYTES,
    },
    connectionTestsPerMinute: s.MATCHER_CONNECTION_TESTS_PER_MINUTE,
    connectionTestsPerTenantPerMinute: s.MATCHER_CONNECTION_TESTS_PER_TENANT_PER_MINUTE,
    rateLimits: {
      perTenant: {
        reads: s.MATCHER_RATE_LIMIT_READS_PER_MINUTE,
        writes: s.MATCHER_RATE_LIMIT_WRITES_PER_MINUTE,
        liveTests: s.MATCHER_RATE_LIMIT_LIVE_TESTS_PER_MINUTE,
        pulls: s.MATCHER_RATE_LIMIT_PULLS_PER_MINUTE,
      },
      perWebhookToken: s.MATCHER_WEBHOOK_RATE_PER_TOKEN_PER_MINUTE,
    },
    metricsToken: s.MATCHER_METRICS_TOKEN,
    amqpUrl: s.MATCHER_AMQP_URL,
    webhookTokenCacheMs: s.MATCHER_WEBHOOK_TOKEN_CACHE_MS,
    pulls: {
      concurrency: s.MATCHER_PULL_CONCURRENCY,
      maxAttempts: s.MATCHER_PULL_MAX_ATTEMPTS,
      leaseMs: s.MATCHER_PULL_LEASE_SECONDS * 1000,
      retentionMs: s.MATCHER_RETENTION_DAYS * 86_400_000,
      webhookDelayMs: s.MATCHER_PULL_WEBHOOK_DELAY_MS,
      webhookMinIntervalMs: s.MATCHER_PULL_WEBHOOK_MIN_INTERVAL_MS,
      idsPerAccount: s.MATCHER_PULL_IDS_PER_ACCOUNT,
      maxPagesPerWalk: s.MATCHER_PULL_MAX_PAGES_PER_WALK,
    },
    http: {
      headersTimeoutMs: s.MATCHER_HTTP_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: s.MATCHER_HTTP_BODY_TIMEOUT_MS,
      maxJsonDepth: s.MATCHER_JSON_MAX_DEPTH,
    },
    database: {
      statementTimeoutMs: s.MATCHER_DB_STATEMENT_TIMEOUT_MS,
      waitMs: s.MATCHER_DB_WAIT_MS,
      maxPendingWebhooks: s.MATCHER_WEBHOOK_MAX_PENDING,
    },
  };
}

// The rules run even beside a setting that failed its own check, so that one start lists every
// problem at once.
const always = { when: () => true };

/** The whole environment: each setting, then the rules across them, then the Config. */
const configSchema = settings
  .superRefine(settingsAgree, always)
  .superRefine(productionRules, always)
  .transform(toConfig);

/** The names of the environment variables the service reads. */
export const settingNames: readonly string[] = Object.keys(settings.shape);

/**
 * Development takes a missing JWT secret (when no JWKS is set either) and a missing key ring
 * from `devSecrets`; production never does.
 */
function withDevSecrets(env: Env, devSecrets: (dataDir: string) => DevSecrets): Env {
  if (settings.shape.MATCHER_ENV.safeParse(env.MATCHER_ENV).data === "production") return env;
  const given = (name: string) => Boolean(env[name]?.trim());
  const jwksUrl = settings.shape.AUTH_JWKS_URL.safeParse(env.AUTH_JWKS_URL).data;
  const needSecret = !given("AUTH_JWT_SECRET") && !jwksUrl;
  const needKeys = !given("MATCHER_SEAL_KEYS");
  if (!needSecret && !needKeys) return env;
  const dev = devSecrets(settings.shape.MATCHER_DATA_DIR.parse(env.MATCHER_DATA_DIR));
  return {
    ...env,
    ...(needSecret ? { AUTH_JWT_SECRET: dev.jwtSecret } : {}),
    ...(needKeys ? { MATCHER_SEAL_KEYS: dev.sealKeys } : {}),
  };
}

/**
 * Parses the environment. `devSecrets(dataDir)` supplies the JWT secret and seal keys in development when the
 * environment has none; production refuses to start without them and lists every problem at once.
 */
export function parseConfig(env: Env, devSecrets?: (dataDir: string) => DevSecrets): Config {
  const parsed = configSchema.safeParse(devSecrets ? withDevSecrets(env, devSecrets) : env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((issue) => issue.message));
  return parsed.data;
}
