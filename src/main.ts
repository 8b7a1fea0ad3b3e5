// Wiring: configuration, database, KV, the app and the HTTP server.
import { createApp } from "./app.ts";
import { ConfigError, parseConfig } from "./config/config.ts";
import { loadDevSecrets } from "./config/dev_secrets.ts";
import { createConnectorRegistry, registerBuiltInConnectors } from "./connectors/registry.ts";
import { createKeyRing } from "./crypto/seal.ts";
import { startEmbeddedPostgres } from "./db/embedded.ts";
import { migrate } from "./db/migrate.ts";
import { createPool } from "./db/pool.ts";
import { createTenantVerifier } from "./http/auth.ts";
import { jsonLogger } from "./http/logger.ts";
import { join } from "node:path";

const logger = jsonLogger();

let config;
try {
  config = parseConfig(
    Deno.env.toObject(),
    () =>
      loadDevSecrets(Deno.env.get("MATCHER_DATA_DIR") || ".matcher", (msg) => logger.warn({ msg })),
  );
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  Deno.exit(1);
}

const embedded = config.databaseUrl
  ? undefined
  : await startEmbeddedPostgres(join(config.dataDir, "pgdata"));
if (embedded) {
  logger.warn({
    msg: `DATABASE_URL is not set: using the embedded database in ${config.dataDir}/pgdata`,
  });
}
const sql = createPool(config.databaseUrl ?? embedded!.url, { max: embedded ? 1 : 10 });
const applied = await migrate(sql);
if (applied.length) logger.info({ msg: "migrations applied", versions: applied });

if (!config.kvPath.includes("://") && config.kvPath !== ":memory:") {
  await Deno.mkdir(join(config.kvPath, ".."), { recursive: true });
}
const kv = await Deno.openKv(config.kvPath);

const app = createApp({
  sql,
  kv,
  keyRing: await createKeyRing(config.sealKeys),
  verifyTenant: createTenantVerifier(config.auth),
  connectors: registerBuiltInConnectors(createConnectorRegistry()),
  egress: config.egress,
  logger,
});

const server = Deno.serve({
  hostname: config.host,
  port: config.port,
  onListen: ({ hostname, port }) => {
    logger.info({ msg: `listening on http://${hostname}:${port}`, env: config.env });
  },
}, app.fetch);

async function shutdown() {
  await server.shutdown();
  await sql.end({ timeout: 5 });
  kv.close();
  await embedded?.stop();
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
