// A claimed pull job under its lease: fenced progress with its checkpoint, renewals, outcomes.
import type postgres from "postgres";
import type { Db, Sql } from "../db/pool.ts";
import type { EndedPull } from "../events/event_bodies.ts";
import type { PullError } from "./pulls.repository.ts";
import type { SkippedTransaction } from "../vendors/transaction_rules.ts";
import type { Cursor } from "./work.ts";

/** Skipped vendor rows a pull keeps by id (the count has them all): enough to look a few up. */
export const SKIPPED_KEPT = 20;

/** A claimed job and the lease it is held under. */
export interface Lease {
  jobId: string;
  owner: string;
}

/** Thrown inside a progress write when the job is no longer this worker's to write. */
export class LeaseLost extends Error {
  constructor() {
    super("the pull's lease is gone (reclaimed, released or its connection deleted)");
    this.name = "LeaseLost";
  }
}

/** One page's move of its step: finished (the step joins `done`), or its next cursor, or neither. */
export interface StepProgress {
  step: string;
  finished: boolean;
  cursor?: Cursor;
}

/**
 * Inside `tx`, records progress of a leased job and extends its lease; throws LeaseLost (rolling
 * back whatever `tx` wrote) when another worker holds the job now or its connection was deleted.
 *
 * Several walks of one job commit at once, so the checkpoint is changed in place, only at this
 * step's entry: a finished step is appended to `done` and its cursor dropped, else its cursor is
 * set. The row lock makes a concurrent commit wait, and the update is then evaluated again on the
 * row that commit left, so neither loses the other's entry. An older checkpoint's `current` is
 * turned into a cursor on the way.
 */
export async function recordProgress(
  tx: postgres.TransactionSql,
  lease: Lease,
  progress: StepProgress & {
    pages: number;
    upserted: number;
    /** The page's rows that could not be stored: counted, and the first few kept by id. */
    skipped?: SkippedTransaction[];
    leaseUntil: Date;
  },
): Promise<void> {
  const { step, finished } = progress;
  const cursor = progress.cursor ? tx.json(progress.cursor as unknown as postgres.JSONValue) : null;
  const skipped = progress.skipped ?? [];
  const samples = skipped.slice(0, SKIPPED_KEPT).map((s) => ({
    externalId: s.id,
    accountId: s.accountId,
    reason: s.reason,
  }));
  const [own] = await tx`
    update pull_jobs set checkpoint = (
        select jsonb_build_object(
          'done', case when ${finished}::boolean and not c.done ? ${step}::text
            then c.done || to_jsonb(${step}::text) else c.done end,
          'cursors', case when ${finished}::boolean then c.cursors - ${step}::text
            when ${cursor}::jsonb is null then c.cursors
            else c.cursors || jsonb_build_object(${step}::text, ${cursor}::jsonb) end)
        from (select coalesce(pull_jobs.checkpoint -> 'done', '[]'::jsonb) as done,
          case when pull_jobs.checkpoint ? 'current'
            then jsonb_build_object(pull_jobs.checkpoint #>> '{current,step}',
              (pull_jobs.checkpoint -> 'current') - 'step')
            else '{}'::jsonb end
          || coalesce(pull_jobs.checkpoint -> 'cursors', '{}'::jsonb) as cursors) c),
      pages_fetched = pages_fetched + ${progress.pages},
      transactions_upserted = transactions_upserted + ${progress.upserted},
      transactions_skipped = transactions_skipped + ${skipped.length},
      skipped_transactions = case when ${samples.length}::int = 0 then skipped_transactions else (
          select coalesce(jsonb_agg(e.value order by e.n), '[]'::jsonb)
          from jsonb_array_elements(skipped_transactions || ${tx.json(samples)}::jsonb)
            with ordinality as e(value, n)
          where e.n <= ${SKIPPED_KEPT}) end,
      lease_expires_at = ${progress.leaseUntil}
    where id = ${lease.jobId} and status = 'running' and lease_owner = ${lease.owner}
      and exists (
        select 1 from connections c where c.id = pull_jobs.connection_id and c.deleted_at is null
      )
    returning id`;
  if (!own) throw new LeaseLost();
}

/** Extends the lease of a job still held by `lease.owner`; false when it is not. */
export async function renewLease(sql: Sql, lease: Lease, leaseUntil: Date): Promise<boolean> {
  const result = await sql`
    update pull_jobs set lease_expires_at = ${leaseUntil}
    where id = ${lease.jobId} and status = 'running' and lease_owner = ${lease.owner}`;
  return result.count === 1;
}

/**
 * Ends a held job: succeeded, failed or dead. Answers the ended pull (with its connection's
 * vendor, for its event), or undefined when the lease was lost.
 */
export async function finishPull(
  db: Db,
  lease: Lease,
  outcome: { status: "succeeded" | "failed" | "dead"; error?: PullError; now: Date },
): Promise<EndedPull | undefined> {
  const [r] = await db`
    update pull_jobs set status = ${outcome.status}, finished_at = ${outcome.now},
      last_error = ${outcome.error ? db.json(outcome.error) : null},
      lease_owner = null, lease_expires_at = null, next_attempt_at = null
    where id = ${lease.jobId} and status = 'running' and lease_owner = ${lease.owner}
    returning id, tenant_id, connection_id, trigger, status, attempts, pages_fetched,
      transactions_upserted, last_error, started_at, finished_at,
      (select connector_type from connections c where c.id = connection_id) as vendor`;
  return r ? toEndedPull(r) : undefined;
}

/** A pull_jobs row that ended, in the shape its event is made from. */
export function toEndedPull(r: Record<string, unknown>): EndedPull {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    connectionId: r.connection_id as string,
    vendor: r.vendor as string,
    trigger: r.trigger as string,
    status: r.status as EndedPull["status"],
    attempts: r.attempts as number,
    pagesFetched: r.pages_fetched as number,
    transactionsUpserted: r.transactions_upserted as number,
    lastError: r.last_error as PullError | null,
    startedAt: r.started_at as Date | null,
    finishedAt: r.finished_at as Date,
  };
}

/** Puts a held job back to be tried again at `at`, keeping its checkpoint. */
export async function retryPull(
  sql: Sql,
  lease: Lease,
  retry: { at: Date; error: PullError },
): Promise<boolean> {
  const result = await sql`
    update pull_jobs set status = 'retrying', next_attempt_at = ${retry.at},
      last_error = ${sql.json(retry.error)}, lease_owner = null, lease_expires_at = null
    where id = ${lease.jobId} and status = 'running' and lease_owner = ${lease.owner}`;
  return result.count === 1;
}

/**
 * Hands a held job back untouched at shutdown: due at once, and the attempt it was in does not
 * count, since it did not fail.
 */
export async function releasePull(
  sql: Sql,
  lease: Lease,
  release: { now: Date },
): Promise<boolean> {
  const result = await sql`
    update pull_jobs set status = 'retrying', next_attempt_at = ${release.now},
      attempts = greatest(attempts - 1, 0), lease_owner = null, lease_expires_at = null
    where id = ${lease.jobId} and status = 'running' and lease_owner = ${lease.owner}`;
  return result.count === 1;
}

/**
 * Running jobs whose lease ran out (their worker died or hung) are due again at once, or dead when
 * they used every attempt. Answers how many were reclaimed.
 */
export async function reclaimExpiredLeases(
  sql: Db,
  now: Date,
  maxAttempts: number,
): Promise<number> {
  return (await reclaimExpired(sql, now, maxAttempts)).length;
}

/** `reclaimExpiredLeases`, answering the reclaimed jobs (those now dead end, for their events). */
export async function reclaimExpired(
  db: Db,
  now: Date,
  maxAttempts: number,
): Promise<EndedPull[]> {
  const error: PullError = {
    reason: "worker_lost",
    message: "the worker running this pull stopped before finishing it",
  };
  const rows = await db`
    update pull_jobs set
      status = case when attempts >= ${maxAttempts} then 'dead' else 'retrying' end,
      next_attempt_at = case when attempts >= ${maxAttempts} then null else ${now}::timestamptz end,
      finished_at = case when attempts >= ${maxAttempts} then ${now}::timestamptz end,
      last_error = ${db.json(error)}, lease_owner = null, lease_expires_at = null
    where status = 'running' and lease_expires_at < ${now}
    returning id, tenant_id, connection_id, trigger, status, attempts, pages_fetched,
      transactions_upserted, last_error, started_at, finished_at,
      (select connector_type from connections c where c.id = connection_id) as vendor`;
  return rows.map(toEndedPull);
}
