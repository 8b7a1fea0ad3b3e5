// The environment, parsed and checked once at start into the typed Config passed to everything else.
import { join } from "node:path";
import type { SealKey } from "../crypto/seal.ts";

export type { SealKey };

export interface Config {
  env: "development" | "production";
  host: string;
  port: number;
  /** Postgres URL; undefined means the embedded PGlite database in `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  /** Deno KV file, `:memory:` or KV Connect URL; undefined opens the platform's KV (Deno Deploy). */
  kvPath?: string;
  auth: { secret?: Uint8Array; jwksUrl?: URL; issuer?: string; audience?: string };
  /** The seal key ring; the first key is the primary one, used for every new seal. */
  sealKeys: SealKey[];
  publicUrl: string;
  egress: { allowHosts: string[]; allowHttp: boolean };
  /** Limits on every call to a vendor's API. */
  vendorHttp: { connectTimeoutMs: number; timeoutMs: number; maxResponseBytes: number };
  /** Live connection tests allowed per connection per minute (they cost the tenant vendor quota). */
  connectionTestsPerMinute: number;
  /** The bearer token /metrics requires; undefined turns /metrics off. */
  metricsToken?: string;
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

/**
 * Parses the environment. `devSecrets(dataDir)` supplies the JWT secret and seal keys in development when the
 * environment has none; production refuses to start without them and lists every problem at once.
 */
export function parseConfig(env: Env, devSecrets?: (dataDir: string) => DevSecrets): Config {
  const problems: string[] = [];
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };

  const mode = get("MATCHER_ENV") ?? "development";
  if (mode !== "development" && mode !== "production") {
    problems.push(`MATCHER_ENV must be "development" or "production", not "${mode}"`);
  }
  const production = mode === "production";

  const portText = get("PORT") ?? "8080";
  const port = Number(portText);
  if (!isPort(portText)) problems.push("PORT must be a whole number from 0 to 65535");
  const host = get("HOST") ?? "127.0.0.1";
  const dataDir = get("MATCHER_DATA_DIR") ?? ".matcher";
  const databaseUrl = get("DATABASE_URL");
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push("DATABASE_URL must be a postgres:// or postgresql:// URL");
  }
  if (production && !databaseUrl) {
    problems.push(
      "DATABASE_URL is required in production (the embedded database is for development)",
    );
  }

  const jwksUrl = parseUrl(get("AUTH_JWKS_URL"), "AUTH_JWKS_URL", problems);
  if (production && jwksUrl && jwksUrl.protocol !== "https:") {
    problems.push("AUTH_JWKS_URL must be https in production");
  }
  let jwtSecret = get("AUTH_JWT_SECRET");
  if (jwtSecret && jwksUrl) problems.push("set AUTH_JWT_SECRET or AUTH_JWKS_URL, not both");
  if (production) {
    if (!jwtSecret && !jwksUrl) {
      problems.push("AUTH_JWT_SECRET or AUTH_JWKS_URL is required in production");
    }
    if (jwtSecret && jwtSecret.length < 32) {
      problems.push("AUTH_JWT_SECRET must be at least 32 characters in production");
    }
  }

  let sealKeysText = get("MATCHER_SEAL_KEYS");
  if (production && !sealKeysText) problems.push("MATCHER_SEAL_KEYS is required in production");

  if (!production && ((!jwtSecret && !jwksUrl) || !sealKeysText) && devSecrets) {
    const dev = devSecrets(dataDir);
    if (!jwtSecret && !jwksUrl) jwtSecret = dev.jwtSecret;
    sealKeysText ??= dev.sealKeys;
  }
  const sealKeys = sealKeysText ? parseSealKeys(sealKeysText, problems) : [];
  if (!sealKeysText && !production) problems.push("MATCHER_SEAL_KEYS is not set");

  const publicUrl = (get("MATCHER_PUBLIC_URL") ?? `http://localhost:${port}`).replace(/\/+$/, "");
  const parsedPublic = parseUrl(publicUrl, "MATCHER_PUBLIC_URL", problems);
  if (production && parsedPublic && parsedPublic.protocol !== "https:") {
    problems.push("MATCHER_PUBLIC_URL must be an https URL in production");
  }

  const allowHttpText = get("MATCHER_EGRESS_ALLOW_HTTP") ?? "false";
  if (allowHttpText !== "true" && allowHttpText !== "false") {
    problems.push('MATCHER_EGRESS_ALLOW_HTTP must be "true" or "false"');
  }
  const allowHttp = allowHttpText === "true";
  if (production && allowHttp) {
    problems.push("MATCHER_EGRESS_ALLOW_HTTP=true is refused in production");
  }
  const allowHosts = (get("MATCHER_EGRESS_ALLOW_HOSTS") ?? "").split(",").map((h) =>
    h.trim().toLowerCase()
  ).filter(Boolean);
  for (const h of allowHosts) {
    const match = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d+))?$/.exec(h);
    if (!match || (match[1] !== undefined && !isPort(match[1]))) {
      problems.push(`MATCHER_EGRESS_ALLOW_HOSTS entry "${h}" is not host[:port]`);
    }
  }

  const number = (name: string, fallback: number, min: number) => {
    const text = get(name);
    if (text === undefined) return fallback;
    if (!/^\d{1,10}$/.test(text) || Number(text) < min) {
      problems.push(`${name} must be a whole number${min > 0 ? " above 0" : ""}`);
      return fallback; // reported; the fallback keeps later checks from piling on
    }
    return Number(text);
  };
  const positive = (name: string, fallback: number) => number(name, fallback, 1);
  const wholeNumber = (name: string, fallback: number) => number(name, fallback, 0);
  const vendorHttp = {
    connectTimeoutMs: positive("MATCHER_VENDOR_CONNECT_TIMEOUT_MS", 5_000),
    timeoutMs: positive("MATCHER_VENDOR_TIMEOUT_MS", 30_000),
    maxResponseBytes: positive("MATCHER_VENDOR_MAX_RESPONSE_BYTES", 32 * 1024 * 1024),
  };
  if (vendorHttp.connectTimeoutMs > vendorHttp.timeoutMs) {
    problems.push("MATCHER_VENDOR_CONNECT_TIMEOUT_MS must not exceed MATCHER_VENDOR_TIMEOUT_MS");
  }
  const connectionTestsPerMinute = positive("MATCHER_CONNECTION_TESTS_PER_MINUTE", 10);
  const pulls = {
    concurrency: positive("MATCHER_PULL_CONCURRENCY", 4),
    maxAttempts: positive("MATCHER_PULL_MAX_ATTEMPTS", 8),
    leaseMs: positive("MATCHER_PULL_LEASE_SECONDS", 120) * 1000,
    retentionMs: positive("MATCHER_RETENTION_DAYS", 30) * 86_400_000,
    webhookDelayMs: wholeNumber("MATCHER_PULL_WEBHOOK_DELAY_MS", 2_000),
  };
  const http = {
    headersTimeoutMs: wholeNumber("MATCHER_HTTP_HEADERS_TIMEOUT_MS", 10_000),
    bodyTimeoutMs: positive("MATCHER_HTTP_BODY_TIMEOUT_MS", 10_000),
    maxJsonDepth: positive("MATCHER_JSON_MAX_DEPTH", 64),
  };
  const database = {
    statementTimeoutMs: wholeNumber("MATCHER_DB_STATEMENT_TIMEOUT_MS", 30_000),
    waitMs: positive("MATCHER_DB_WAIT_MS", 4_000),
    maxPendingWebhooks: positive("MATCHER_WEBHOOK_MAX_PENDING", 1_000),
  };
  const metricsToken = get("MATCHER_METRICS_TOKEN");
  if (production && metricsToken && metricsToken.length < 32) {
    problems.push("MATCHER_METRICS_TOKEN must be at least 32 characters in production");
  }

  // Deno's own tracing records every request's URL (url.full, url.path) in its server span, and a
  // webhook URL holds its token; no API can take an attribute back off that span.
  const tracing = get("OTEL_DENO") === "true" && get("OTEL_DENO_TRACING") !== "false";
  if (production && tracing && get("MATCHER_TRACES_REDACTED") !== "true") {
    problems.push(
      "OTEL_DENO=true traces every request with its URL, and a webhook URL holds its token: " +
        "set OTEL_DENO_TRACING=false (metrics and logs only), or have the collector redact " +
        "url.full and url.path of /v1/discovery/webhooks/ spans and set MATCHER_TRACES_REDACTED=true",
    );
  }

  if (problems.length) throw new ConfigError(problems);
  return {
    env: production ? "production" : "development",
    host,
    port,
    databaseUrl,
    dataDir,
    // Deno Deploy reserves DENO_* settings and connects Deno.openKv() without a path to the app's
    // own KV; a file there would be private to one short-lived instance.
    kvPath: get("DENO_KV_PATH") ??
      (get("DENO_DEPLOY") === "true" ? undefined : join(dataDir, "kv.sqlite3")),
    auth: {
      secret: jwtSecret ? new TextEncoder().encode(jwtSecret) : undefined,
      jwksUrl,
      issuer: get("AUTH_JWT_ISSUER"),
      audience: get("AUTH_JWT_AUDIENCE"),
    },
    sealKeys,
    publicUrl,
    egress: { allowHosts, allowHttp },
    vendorHttp,
    connectionTestsPerMinute,
    metricsToken,
    pulls,
    http,
    database,
  };
}

function isPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65535;
}

function parseUrl(value: string | undefined, name: string, problems: string[]): URL | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol === "https:" || url.protocol === "http:") return url;
  } catch {
    // reported below
  }
  problems.push(`${name} must be an absolute http(s) URL`);
  return undefined;
}

/** `keyId:base64key,...`, each key 32 bytes; the first is the primary. Never echoes a key. */
export function parseSealKeys(text: string, problems: string[]): SealKey[] {
  const keys: SealKey[] = [];
  for (const [i, entry] of text.split(",").map((e) => e.trim()).entries()) {
    const at = entry.indexOf(":");
    const id = entry.slice(0, at);
    if (at < 1 || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
      problems.push(
        `MATCHER_SEAL_KEYS entry ${i + 1} must be keyId:base64key (keyId: 1-32 of A-Z a-z 0-9 _ -)`,
      );
      continue;
    }
    let key: Uint8Array | undefined;
    try {
      key = Uint8Array.fromBase64(entry.slice(at + 1));
    } catch {
      key = undefined;
    }
    if (!key || key.length !== 32) {
      problems.push(`MATCHER_SEAL_KEYS key "${id}" must be 32 bytes in base64 (AES-256)`);
      continue;
    }
    if (keys.some((k) => k.id === id)) problems.push(`MATCHER_SEAL_KEYS repeats key id "${id}"`);
    keys.push({ id, key });
  }
  return keys;
}
