// The real service process on a fresh database, with a tenant token and helpers to call its API.
import { SignJWT } from "jose";
import postgres from "postgres";
import type { SealKey } from "../src/config/config.ts";
import type { Json } from "../tests/support/vendor_calls.ts";
import { createTestDatabase } from "../tests/support/database.ts";
import { cleanEnv, startService } from "../tests/support/process.ts";
import { LIMITS_OFF } from "../tests/support/service.ts";

export interface BenchService {
  baseUrl: string;
  pid: number;
  tenant: string;
  /** `Bearer <JWT>` of the tenant, for requests the bench times itself. */
  authorization: string;
  /** `Bearer <JWT>` of another tenant. */
  authorizationFor(tenant: string): Promise<string>;
  /** The key ring the service was started with (to seal seeded rows the way it would). */
  sealKeys: SealKey[];
  /** The HS256 secret its tokens are signed with (another service may share it). */
  jwtSecret: string;
  /** A pool on the service's database, for seeding and for checks. */
  sql: postgres.Sql;
  databaseName: string;
  /** A call as the tenant: answers the status and the parsed body (or the text). */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
  /** The service's stdout and stderr lines so far (for failure reports). */
  lines: string[];
  /** The service's database and KV file, which outlive `stop()` (a baseline may use them). */
  databaseUrl: string;
  kvPath: string;
  /** Stops the service process and keeps its database. */
  stop(): Promise<void>;
  /** Stops the service, then drops the database. */
  close(): Promise<void>;
}

/**
 * Starts `deno task start`'s command as a child process; `allowHost` is a fake vendor's host. The
 * rate limits are off unless `env` sets them (the benches measure them where they say so).
 * `share` runs it as another replica of that service: its database, tenant, secret and keys, its
 * own KV file; it leaves the database to that service.
 */
export async function startBenchService(
  options: { allowHost?: string; env?: Record<string, string>; share?: BenchService } = {},
): Promise<BenchService> {
  const shared = options.share;
  const db = shared
    ? { url: shared.databaseUrl, maxConnections: 10, drop: () => Promise.resolve() }
    : await createTestDatabase();
  if (db.maxConnections === 1) {
    await db.drop();
    throw new Error("the bench needs a real Postgres (TEST_DATABASE_URL), not embedded PGlite");
  }
  const dataDir = await Deno.makeTempDir({ prefix: "matcher-bench-" });
  const jwtSecret = shared?.jwtSecret ?? crypto.getRandomValues(new Uint8Array(32)).toBase64();
  const sealKeys = shared?.sealKeys ??
    [{ id: "bench1", key: crypto.getRandomValues(new Uint8Array(32)) }];
  const env = cleanEnv({
    PORT: "0",
    DATABASE_URL: db.url,
    MATCHER_DATA_DIR: dataDir,
    AUTH_JWT_SECRET: jwtSecret,
    MATCHER_SEAL_KEYS: sealKeys.map((k) => `${k.id}:${k.key.toBase64()}`).join(","),
    ...(options.allowHost
      ? { MATCHER_EGRESS_ALLOW_HOSTS: options.allowHost, MATCHER_EGRESS_ALLOW_HTTP: "true" }
      : {}),
    ...LIMITS_OFF,
    ...options.env,
  });
  const service = await startService(env, { direct: true }).catch(async (err) => {
    await db.drop();
    throw err;
  });
  const tenant = shared?.tenant ?? crypto.randomUUID();
  const sign = (tenantId: string) =>
    new SignJWT({ tenant_id: tenantId }).setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("2h").sign(new TextEncoder().encode(jwtSecret));
  const jwt = await sign(tenant);
  const sql = postgres(db.url, { max: 4, onnotice: () => {} });
  return {
    baseUrl: service.baseUrl,
    pid: service.pid,
    tenant,
    authorization: `Bearer ${jwt}`,
    authorizationFor: async (other) => `Bearer ${await sign(other)}`,
    sealKeys,
    jwtSecret,
    sql,
    databaseName: new URL(db.url).pathname.slice(1),
    lines: service.lines,
    databaseUrl: db.url,
    kvPath: `${dataDir}/kv.sqlite3`,
    async stop() {
      await service.stop().catch(() => {});
    },
    async api(method, path, body) {
      const res = await fetch(`${service.baseUrl}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${jwt}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch { /* left as text */ }
      return { status: res.status, body: parsed };
    },
    async close() {
      await service.stop().catch(() => {});
      await sql.end({ timeout: 2 });
      await db.drop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** Answers `body` when `status` is what was expected; otherwise fails with what came back. */
export function expectStatus<T>(
  what: string,
  res: { status: number; body: T },
  status: number,
): T {
  if (res.status !== status) {
    throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}
