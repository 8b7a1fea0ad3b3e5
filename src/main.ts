// Wiring: configuration, database, KV, the app, the pull workers, the retry sweep and the server.
import { dirname } from "node:path";
import { createApp } from "./app.ts";
import { loadConfig } from "./config/load.ts";
import { createConnectorRegistry, registerBuiltInConnectors } from "./connectors/registry.ts";
import { devSignInFor } from "./console/console.service.ts";
import { createKeyRing } from "./crypto/seal.ts";
import { guardDriverCrash } from "./db/driver_guard.ts";
import { openKv } from "./db/kv_commit.ts";
import { openDatabase } from "./db/open.ts";
import { createTenantVerifier } from "./http/auth.ts";
import { jsonLogger } from "./http/logger.ts";
import { createRateLimiter } from "./http/rate_limit.ts";
import { createAggregators } from "./vendors/clients.ts";
import { createVendorHttp } from "./vendors/vendor_http.ts";
import { processMetrics } from "./metrics/process_metrics.ts";
import { pullMetrics } from "./metrics/pull_metrics.ts";
import { createMetricsRegistry } from "./metrics/registry.ts";
import { vendorMetrics } from "./metrics/vendor_metrics.ts";
import { sweepPulls } from "./pulls/sweep.ts";
import { createPullPool } from "./pulls/worker.ts";

// Registered first, at the top level of the module, as Deno Deploy requires; a run waits for the
// wiring below to hand over the sweep.
const sweep = Promise.withResolvers<() => Promise<unknown>>();
Deno.cron("matcher-pull-sweep", "* * * * *", async () => {
  try {
    await (await sweep.promise)();
  } catch (err) {
    // The next minute tries again. Logged here, by name and code only: Deno would print the
    // whole error, and postgres.js errors carry query parameters.
    const e = err as { name?: string; code?: string };
    logger.error({ msg: "pull sweep failed", error: { name: e?.name, code: e?.code } });
  }
});

const logger = jsonLogger();
guardDriverCrash(logger);
const config = loadConfig(logger);
const db = await openDatabase(config, logger);

if (config.kvPath && !config.kvPath.includes("://") && config.kvPath !== ":memory:") {
  await Deno.mkdir(dirname(config.kvPath), { recursive: true });
}
const kv = await openKv(config.kvPath);

const metrics = createMetricsRegistry();
processMetrics(metrics);

const keyRing = await createKeyRing(config.sealKeys);
const aggregators = createAggregators(
  createVendorHttp({
    egress: config.egress,
    ...config.vendorHttp,
    observe: vendorMetrics(metrics),
  }),
);
const pool = createPullPool({
  sql: db.sql,
  keyRing,
  aggregators,
  logger,
  now: Date.now,
  leaseMs: config.pulls.leaseMs,
  maxAttempts: config.pulls.maxAttempts,
}, {
  concurrency: config.pulls.concurrency,
  observe: pullMetrics(metrics, { sql: db.sql, now: Date.now }),
});
const runSweep = () =>
  sweepPulls({
    sql: db.sql,
    logger,
    now: Date.now,
    maxAttempts: config.pulls.maxAttempts,
    retentionMs: config.pulls.retentionMs,
    pool,
  });
sweep.resolve(runSweep);

const app = createApp({
  sql: db.sql,
  kv,
  keyRing,
  verifyTenant: createTenantVerifier(config.auth),
  connectors: registerBuiltInConnectors(createConnectorRegistry()),
  egress: config.egress,
  aggregators,
  testLimiter: createRateLimiter(kv, { limit: config.connectionTestsPerMinute, windowMs: 60_000 }),
  logger,
  metrics,
  metricsToken: config.metricsToken,
  now: Date.now,
  onPullQueued: () => pool.wake(),
  webhookPullDelayMs: config.pulls.webhookDelayMs,
  publicUrl: config.publicUrl,
  devSignIn: devSignInFor(config),
});
pool.start();
// Once at start as well: a replica restarting after a crash takes back its expired pulls at once
// instead of at the next cron minute.
runSweep().catch((err) => {
  logger.error({ msg: "start-up sweep failed", error: { name: err?.name, code: err?.code } });
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
  await pool.stop(); // running pulls stop before their next page and are handed back
  kv.close();
  await db.close();
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
