// Opens the configured database (DATABASE_URL, or embedded PGlite in the data dir) and migrates it.
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import type { Logger } from "../lib/logger.ts";
import { migrate } from "./migrate.ts";
import { createPool, type Sql } from "./pool.ts";

export interface Database {
  sql: Sql;
  close(): Promise<void>;
}

export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  // Loaded only when used, so production never loads PGlite.
  const embedded = config.databaseUrl
    ? undefined
    : await (await import("./embedded.ts")).startEmbeddedPostgres(join(config.dataDir, "pgdata"));
  if (embedded) {
    logger.warn({
      msg: `DATABASE_URL is not set: using the embedded database in ${config.dataDir}/pgdata`,
    });
  }
  // The embedded database serves one connection at a time; the event relay holds one of its own.
  const sql = createPool(config.databaseUrl ?? embedded!.url, {
    max: embedded ? 1 : config.amqpUrl ? 11 : 10,
    statementTimeoutMs: config.database.statementTimeoutMs,
  });
  const applied = await migrate(sql);
  if (applied.length) logger.info({ msg: "migrations applied", versions: applied });
  return {
    sql,
    async close() {
      await sql.end({ timeout: 5 });
      await embedded?.stop();
    },
  };
}
