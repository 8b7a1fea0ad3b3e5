// Applies src/db/migrations/*.sql in order, once each, under an advisory lock, with checksums.
import type { Sql } from "./pool.ts";

const LOCK_KEY = 7_146_021_001; // any constant shared by every replica of this service

export type Migration = { version: string; name: string; sql: string };

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MigrationError";
  }
}

/** The migration files beside this module, sorted by their NNNN_ prefix. */
export async function readMigrations(
  dir: URL = new URL("./migrations/", import.meta.url),
): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(entry.name);
    if (!entry.isFile || !match) continue;
    migrations.push({
      version: match[1],
      name: match[2],
      sql: await Deno.readTextFile(new URL(entry.name, dir)),
    });
  }
  return migrations.sort((a, b) => a.version.localeCompare(b.version));
}

async function checksum(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return new Uint8Array(digest).toHex();
}

/**
 * Applies every pending migration, each in its own transaction. Replicas starting together wait on
 * the lock; an applied migration whose file changed stops the start. Returns the versions applied.
 */
export async function migrate(sql: Sql, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? await readMigrations();
  const seen = new Map<string, string>();
  for (const m of all) {
    const other = seen.get(m.version);
    if (other) {
      throw new MigrationError(`migrations ${other} and ${m.version}_${m.name} share a version`);
    }
    seen.set(m.version, `${m.version}_${m.name}`);
  }
  const conn = await sql.reserve();
  try {
    // No statement_timeout here: a replica waits on the lock for as long as another one migrates,
    // and a migration takes the time it takes.
    await conn`set statement_timeout = 0`;
    await conn`select pg_advisory_lock(${LOCK_KEY})`;
    await conn`
      create table if not exists schema_migrations (
        version text primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`;
    const applied = new Map(
      (await conn<
        { version: string; checksum: string }[]
      >`select version, checksum from schema_migrations`)
        .map((r) => [r.version, r.checksum]),
    );
    const done: string[] = [];
    for (const m of all) {
      const sum = await checksum(m.sql);
      const known = applied.get(m.version);
      if (known !== undefined) {
        if (known !== sum) {
          throw new MigrationError(
            `migration ${m.version}_${m.name} was edited after it was applied; add a new migration instead`,
          );
        }
        continue;
      }
      await conn`begin`;
      try {
        await conn.unsafe(m.sql);
        await conn`insert into schema_migrations (version, name, checksum) values (${m.version}, ${m.name}, ${sum})`;
        await conn`commit`;
      } catch (err) {
        await conn`rollback`;
        throw err;
      }
      done.push(m.version);
    }
    return done;
  } finally {
    await conn`select pg_advisory_unlock(${LOCK_KEY})`.catch(() => {});
    await conn`reset statement_timeout`.catch(() => {});
    conn.release();
  }
}
