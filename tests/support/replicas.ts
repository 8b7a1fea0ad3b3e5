// Settings for service processes sharing one database and one KV file, and bearer tokens for them.
import { SignJWT } from "jose";
import { randomKey } from "./harness.ts";
import { cleanEnv } from "./process.ts";

export interface SharedReplicas {
  /** The temporary folder holding each replica's data dir and the shared KV file. */
  dir: string;
  kvPath: string;
  /** The environment of replica `n`: its own data dir, everything else shared. */
  env(replica: number): Record<string, string>;
  /** A 10-minute bearer token for `tenant`, signed with the replicas' secret. */
  jwt(tenant: string): Promise<string>;
}

export async function sharedReplicas(options: {
  databaseUrl: string;
  prefix: string;
  egressHosts: string[];
  extra?: Record<string, string>;
}): Promise<SharedReplicas> {
  const dir = await Deno.makeTempDir({ prefix: options.prefix });
  const kvPath = `${dir}/shared-kv.sqlite3`;
  const secret = randomKey().toBase64();
  const sealKey = randomKey().toBase64();
  return {
    dir,
    kvPath,
    env: (replica) =>
      cleanEnv({
        PORT: "0",
        DATABASE_URL: options.databaseUrl,
        // Each replica has its own data dir; the KV file is what they share.
        MATCHER_DATA_DIR: `${dir}/replica-${replica}`,
        DENO_KV_PATH: kvPath,
        AUTH_JWT_SECRET: secret,
        MATCHER_SEAL_KEYS: `k1:${sealKey}`,
        MATCHER_EGRESS_ALLOW_HOSTS: options.egressHosts.join(","),
        MATCHER_EGRESS_ALLOW_HTTP: "true",
        ...options.extra,
      }),
    jwt: (tenant) =>
      new SignJWT({ tenant_id: tenant }).setProtectedHeader({ alg: "HS256" })
        .setExpirationTime("10m").sign(new TextEncoder().encode(secret)),
  };
}
