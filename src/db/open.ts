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

/** A running embedded database: its URL, and how to stop it. */
export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/** What `./embedded.ts` exports: PGlite at `dir` (in memory when undefined) behind a socket. */
export type StartEmbeddedPostgres = (dir: string | undefined) => Promise<EmbeddedPostgres>;

// A computed specifier, not a literal: the module graph of main.ts (what the image and Deno Deploy
// install and ship, on deno.json) leaves PGlite and its 27 MB out. Only deno.dev.json maps PGlite;
// `deno task start` uses it, and fetches PGlite when a start without DATABASE_URL gets here.
const EMBEDDED = new URL("./embedded.ts", import.meta.url).href;

export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  // Loaded only when used, so production never loads PGlite.
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbedded(join(config.dataDir, "pgdata"));
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

/** Loads `./embedded.ts` (through EMBEDDED) and starts PGlite at `dir`. */
async function startEmbedded(dir: string): Promise<EmbeddedPostgres> {
  let embedded: { startEmbeddedPostgres: StartEmbeddedPostgres };
  try {
    embedded = await import(EMBEDDED);
  } catch (err) {
    throw new Error(
      "DATABASE_URL is not set, and the embedded database (PGlite) is not in this import map: " +
        "set DATABASE_URL, or start with `deno task start` (deno.dev.json)",
      { cause: err },
    );
  }
  return await embedded.startEmbeddedPostgres(dir);
}
