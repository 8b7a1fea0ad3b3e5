// The SQL of idempotency keys: claim a key, read it, take over a lost attempt, keep or free it.
import type { Sql } from "../db/pool.ts";

/** A key as stored. */
export interface KeyRow {
  state: "running" | "done";
  owner: string;
  fingerprint: Uint8Array;
  fingerprintKey: string;
  status: number | null;
  contentType: string | null;
  body: Uint8Array | null;
  lockedAt: Date;
  expiresAt: Date;
}

/** Which key, and which attempt is acting on it. */
export interface KeyRef {
  tenantId: string;
  key: string;
  owner: string;
}

/**
 * Joined into a statement, makes its commit skip the wait for the WAL flush ("synchronous_commit
 * can be changed at any time; the behavior for any one transaction is determined by the setting in
 * effect when it commits"). Used where losing the commit to a Postgres crash is harmless: a claim
 * (or takeover) is flushed by the operation's own commit, which comes later in the WAL; one whose
 * operation wrote nothing can be lost, and its repeat runs again, as nothing ran. A kept answer
 * commits synchronously: the caller may hold it, and its repeats must find it.
 */
const ASYNC_COMMIT = "(select set_config('synchronous_commit', 'off', true)) as async_commit";

/**
 * Claims the key for `owner` when no live row holds it: a new row, or one whose time has passed
 * (the sweep may not have deleted it yet). True when `owner` now holds it. Two replicas claiming
 * at once meet on the primary key: exactly one insert wins, the other sees the winner's row.
 */
export async function claimKey(
  sql: Sql,
  ref: KeyRef & { fingerprint: Uint8Array; fingerprintKey: string; now: Date; expiresAt: Date },
): Promise<boolean> {
  const rows = await sql`
    insert into idempotency_keys as k
      (tenant_id, key, fingerprint, fingerprint_key, state, owner, created_at, locked_at, expires_at)
    select ${ref.tenantId}, ${ref.key}, ${ref.fingerprint}, ${ref.fingerprintKey}, 'running',
           ${ref.owner}, ${ref.now}::timestamptz, ${ref.now}::timestamptz, ${ref.expiresAt}::timestamptz
    from ${sql.unsafe(ASYNC_COMMIT)}
    on conflict (tenant_id, key) do update set
      fingerprint = excluded.fingerprint, fingerprint_key = excluded.fingerprint_key,
      state = 'running', owner = excluded.owner, status = null, content_type = null, body = null,
      created_at = excluded.created_at, locked_at = excluded.locked_at,
      expires_at = excluded.expires_at
    where k.expires_at <= excluded.created_at
    returning 1`;
  return rows.length === 1;
}

/** The key's row, if any. */
export async function readKey(
  sql: Sql,
  tenantId: string,
  key: string,
): Promise<KeyRow | undefined> {
  const [row] = await sql<KeyRow[]>`
    select state, owner, fingerprint, fingerprint_key as "fingerprintKey", status,
           content_type as "contentType", body, locked_at as "lockedAt", expires_at as "expiresAt"
    from idempotency_keys where tenant_id = ${tenantId} and key = ${key}`;
  return row;
}

/**
 * Hands a running key from the attempt `from`, presumed lost, to `owner`. Only one of several
 * replicas taking over at once succeeds: the row must still name `from`.
 */
export async function takeOverKey(
  sql: Sql,
  ref: KeyRef & { from: string; now: Date },
): Promise<boolean> {
  const rows = await sql`
    update idempotency_keys set owner = ${ref.owner}, locked_at = ${ref.now}
    from ${sql.unsafe(ASYNC_COMMIT)}
    where tenant_id = ${ref.tenantId} and key = ${ref.key} and owner = ${ref.from}
      and state = 'running'
    returning 1`;
  return rows.length === 1;
}

/** Keeps the answer of `owner`'s attempt; false when the key is no longer its own. */
export async function keepAnswer(
  sql: Sql,
  ref: KeyRef & { status: number; contentType: string | null; body: Uint8Array },
): Promise<boolean> {
  const rows = await sql`
    update idempotency_keys
    set state = 'done', status = ${ref.status}, content_type = ${ref.contentType}, body = ${ref.body}
    where tenant_id = ${ref.tenantId} and key = ${ref.key} and owner = ${ref.owner}
      and state = 'running'
    returning 1`;
  return rows.length === 1;
}

/** Frees the key `owner` holds, so that the next request with it runs. */
export async function releaseKey(sql: Sql, ref: KeyRef): Promise<void> {
  await sql`
    delete from idempotency_keys using ${sql.unsafe(ASYNC_COMMIT)}
    where tenant_id = ${ref.tenantId} and key = ${ref.key} and owner = ${ref.owner}
      and state = 'running'`;
}

/** Rows one statement deletes, so that the sweep never holds many locks at once. */
const BATCH = 1_000;
/** Statements one sweep runs at most; the next sweep goes on where this one stopped. */
const MAX_BATCHES = 20;

/**
 * Deletes keys whose time has passed, a small batch at a time; answers how many went. The outer
 * condition is checked again on a row a new claim renewed meanwhile, which is then kept.
 */
export async function deleteExpiredKeys(sql: Sql, now: Date): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const { count } = await sql`
      delete from idempotency_keys where expires_at <= ${now} and (tenant_id, key) in (
        select tenant_id, key from idempotency_keys where expires_at <= ${now}
        order by expires_at limit ${BATCH})`;
    deleted += count;
    if (count < BATCH) break;
  }
  return deleted;
}
