// The process: reads the configuration, opens the database and KV, runs the service (its HTTP
// server, pull workers and the Deno.cron sweep) and stops it on SIGINT or SIGTERM.
import { dirname } from "node:path";
import { loadConfig } from "./config/load.ts";
import { devSignInFor } from "./console/console.service.ts";
import { guardDriverCrash } from "./db/driver_guard.ts";
import { openKv } from "./db/kv.ts";
import { openDatabase } from "./db/open.ts";
import { serve } from "./http/serve.ts";
import { errorSummary } from "./lib/error_summary.ts";
import { consoleLines, jsonLogger, standardStreams } from "./lib/logger.ts";
import { createService } from "./service.ts";

// Registered first, at the top level of the module, as Deno Deploy requires; a run waits for the
// service below to hand over its sweep.
const sweep = Promise.withResolvers<() => Promise<unknown>>();
Deno.cron("matcher-pull-sweep", "* * * * *", async () => {
  try {
    await (await sweep.promise)();
  } catch (err) {
    // The next minute tries again. Logged by name and code only: Deno would print the whole
    // error, and postgres.js errors carry query parameters.
    logger.error({ msg: "pull sweep failed", error: errorSummary(err) });
  }
});

// Deno reads OTEL_DENO itself: when it exports logs, each line must be a console call of its own.
const logger = jsonLogger(
  Deno.env.get("OTEL_DENO") === "true" ? consoleLines : standardStreams(),
);
guardDriverCrash(logger);
const config = loadConfig(logger);
const db = await openDatabase(config, logger);

if (config.kvPath && !config.kvPath.includes("://") && config.kvPath !== ":memory:") {
  await Deno.mkdir(dirname(config.kvPath), { recursive: true });
}
const kv = await openKv(config.kvPath);

const service = await createService({
  settings: config,
  sql: db.sql,
  kv,
  logger,
  now: Date.now,
  devSignIn: devSignInFor(config),
});
sweep.resolve(service.sweep);
service.pool.start();
service.relay?.start();
// Once at start as well: a replica restarting after a crash takes back its expired pulls at once
// instead of at the next cron minute.
service.sweep().catch((err) => {
  logger.error({ msg: "start-up sweep failed", error: errorSummary(err) });
});

const server = await serve(service, {
  hostname: config.host,
  port: config.port,
  headersTimeoutMs: config.http.headersTimeoutMs,
  // A backstop: the app answers a body that takes longer than bodyTimeoutMs itself, with a 408.
  requestTimeoutMs: config.http.headersTimeoutMs + config.http.bodyTimeoutMs,
  onListen: ({ hostname, port }) => {
    logger.info({ msg: `listening on http://${hostname}:${port}`, env: config.env });
  },
});

/**
 * Stops once, however many signals arrive: one Ctrl-C on `deno task start` delivers SIGINT twice
 * (from the terminal, and forwarded by deno task), and a second stop closed KV twice.
 */
let stopping: Promise<never> | undefined;
function shutdown(): Promise<never> {
  stopping ??= (async () => {
    try {
      await server.shutdown();
      await service.closeLimits(); // what this replica counted reaches the others
      await service.pool.stop(); // running pulls stop before their next page and are handed back
      await service.relay?.stop(); // what it has not published waits in the outbox
      kv.close();
      await db.close();
    } catch (err) {
      logger.error({ msg: "shutdown failed", error: errorSummary(err) });
      Deno.exit(1);
    }
    Deno.exit(0);
  })();
  return stopping;
}
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
