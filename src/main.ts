// Wiring: configuration, database, KV, the app and the HTTP server.
import { dirname } from "node:path";
import { createApp } from "./app.ts";
import { loadConfig } from "./config/load.ts";
import { createConnectorRegistry, registerBuiltInConnectors } from "./connectors/registry.ts";
import { createKeyRing } from "./crypto/seal.ts";
import { openDatabase } from "./db/open.ts";
import { createTenantVerifier } from "./http/auth.ts";
import { jsonLogger } from "./http/logger.ts";
import { createRateLimiter } from "./http/rate_limit.ts";
import { createAggregators } from "./vendors/clients.ts";
import { createVendorHttp } from "./vendors/vendor_http.ts";
import { processMetrics } from "./metrics/process_metrics.ts";
import { createMetricsRegistry } from "./metrics/registry.ts";
import { vendorMetrics } from "./metrics/vendor_metrics.ts";

const logger = jsonLogger();
const config = loadConfig(logger);
const db = await openDatabase(config, logger);

if (config.kvPath && !config.kvPath.includes("://") && config.kvPath !== ":memory:") {
  await Deno.mkdir(dirname(config.kvPath), { recursive: true });
}
const kv = await Deno.openKv(config.kvPath);

const metrics = createMetricsRegistry();
processMetrics(metrics);

const app = createApp({
  sql: db.sql,
  kv,
  keyRing: await createKeyRing(config.sealKeys),
  verifyTenant: createTenantVerifier(config.auth),
  connectors: registerBuiltInConnectors(createConnectorRegistry()),
  egress: config.egress,
  aggregators: createAggregators(
    createVendorHttp({
      egress: config.egress,
      ...config.vendorHttp,
      observe: vendorMetrics(metrics),
    }),
  ),
  testLimiter: createRateLimiter(kv, { limit: config.connectionTestsPerMinute, windowMs: 60_000 }),
  logger,
  metrics,
  metricsToken: config.metricsToken,
  publicUrl: config.publicUrl,
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
  kv.close();
  await db.close();
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
