// The real service process for fault-injection tests: its environment, a tenant's API, restarts.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { randomKey } from "./harness.ts";
import { cleanEnv, startService } from "./process.ts";

export type Service = Awaited<ReturnType<typeof startService>>;

/** What every start of one service shares: the environment (database, KV directory, keys). */
export interface ServiceSetup {
  env: Record<string, string>;
  secret: string;
  dataDir: string;
  start(): Promise<Service>;
  /** Removes the KV directory. */
  cleanup(): Promise<void>;
}

/** The rate limits off: these suites send a steady stream of requests as one tenant. */
export const LIMITS_OFF: Record<string, string> = {
  MATCHER_RATE_LIMIT_READS_PER_MINUTE: "0",
  MATCHER_RATE_LIMIT_WRITES_PER_MINUTE: "0",
  MATCHER_RATE_LIMIT_LIVE_TESTS_PER_MINUTE: "0",
  MATCHER_RATE_LIMIT_PULLS_PER_MINUTE: "0",
  MATCHER_WEBHOOK_RATE_PER_TOKEN_PER_MINUTE: "0",
};

/**
 * An environment for `startService` on `databaseUrl`, with a KV file of its own, fresh keys,
 * plain-http egress to `allowHosts` and the rate limits off; `extra` adds or overrides settings
 * (MATCHER_PULL_* ...).
 */
export async function serviceSetup(
  databaseUrl: string,
  allowHosts: string[],
  extra: Record<string, string> = {},
): Promise<ServiceSetup> {
  const dataDir = await Deno.makeTempDir({ prefix: "matcher-chaos-" });
  const secret = randomKey().toBase64();
  const env = cleanEnv({
    PORT: "0",
    DATABASE_URL: databaseUrl,
    MATCHER_DATA_DIR: dataDir,
    AUTH_JWT_SECRET: secret,
    MATCHER_SEAL_KEYS: `k1:${randomKey().toBase64()}`,
    MATCHER_EGRESS_ALLOW_HOSTS: allowHosts.join(","),
    MATCHER_EGRESS_ALLOW_HTTP: "true",
    ...LIMITS_OFF,
    ...extra,
  });
  return {
    env,
    secret,
    dataDir,
    start: () => startService(env, { direct: true }),
    cleanup: () => Deno.remove(dataDir, { recursive: true }).catch(() => {}),
  };
}

/** A tenant's calls to the service at `baseUrl()` (a function: the URL changes on restart). */
export interface TenantApi {
  tenant: string;
  request(method: string, path: string, body?: unknown): Promise<Response>;
  /** POST, asserting `status`; answers the parsed body. */
  post(path: string, body: unknown, status?: number): Promise<Record<string, unknown>>;
  /** GET, asserting `status`; answers the parsed body. */
  get(path: string, status?: number): Promise<Record<string, unknown>>;
}

export async function tenantApi(
  baseUrl: () => string,
  secret: string,
  tenant = crypto.randomUUID(),
): Promise<TenantApi> {
  const jwt = await new SignJWT({ tenant_id: tenant }).setProtectedHeader({ alg: "HS256" })
    .setExpirationTime("1h").sign(new TextEncoder().encode(secret));
  const request = (method: string, path: string, body?: unknown) =>
    fetch(`${baseUrl()}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${jwt}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      // A safety net: an answer that never comes fails the caller instead of hanging the test.
      signal: AbortSignal.timeout(30_000),
    });
  const parsed = async (res: Response, status: number) => {
    const text = await res.text();
    assert.equal(res.status, status, text);
    return JSON.parse(text);
  };
  return {
    tenant,
    request,
    post: async (path, body, status = 201) => parsed(await request("POST", path, body), status),
    get: async (path, status = 200) => parsed(await request("GET", path), status),
  };
}

/** Creates a Pluggy connection to the fake at `baseUrl` for `itemId`; answers its id. */
export async function createPluggyConnection(
  api: TenantApi,
  baseUrl: string,
  itemId: string,
  configName = "pluggy-main",
): Promise<string> {
  const created = await api.post("/v1/discovery/aggregator-connections", {
    vendor: "pluggy",
    configName,
    baseUrl,
    accountRef: itemId,
    clientId: "fake-client-id",
    secret: "fake-client-secret",
  });
  return created.id as string;
}

/** Mints a webhook token for the connection; answers the receiver's path (the URL's host is moot). */
export async function webhookPath(api: TenantApi, configName = "pluggy-main"): Promise<string> {
  const minted = await api.post("/v1/discovery/webhooks/tokens", {
    vendor: "pluggy",
    connection_config_name: configName,
  });
  return new URL(minted.webhookUrl as string).pathname;
}

/** Polls `check` until it answers something other than undefined or false; a safety-net timeout. */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}
