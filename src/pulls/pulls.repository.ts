// Storage of pull jobs: queueing and merging, claims with leases, fenced progress, and outcomes.
import type postgres from "postgres";
import type { components } from "../../generated/types.ts";
import { zPullStatus } from "../../generated/zod/zod.gen.ts";
import { type Db, isUniqueViolation, type Sql } from "../db/pool.ts";
import type { Position } from "../http/pagination.ts";
import { isUuid } from "../http/uuid.ts";
import type { Checkpoint, Cursor, PullWork } from "./work.ts";
import { mergeWork } from "./work.ts";

type Pull = components["schemas"]["Pull"];
export type PullStatus = Pull["status"];
export type PullTrigger = Pull["trigger"];
export type PullError = components["schemas"]["PullError"];

/** Every status a pull job can be in, in the spec's order. */
export const PULL_STATUSES: readonly PullStatus[] = zPullStatus.options;

export interface PullRow {
  id: string;
  tenantId: string;
  connectionId: string;
  trigger: PullTrigger;
  status: PullStatus;
  work: PullWork;
  checkpoint: Checkpoint;
  attempts: number;
  nextAttemptAt: Date | null;
  lastError: PullError | null;
  pagesFetched: number;
  transactionsUpserted: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** A claimed job and the lease it is held under. */
export interface Lease {
  jobId: string;
  owner: string;
}

function toRow(r: Record<string, unknown>): PullRow {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    connectionId: r.connection_id as string,
    trigger: r.trigger as PullTrigger,
    status: r.status as PullStatus,
    work: r.work as PullWork,
    checkpoint: r.checkpoint as Checkpoint,
    attempts: r.attempts as number,
    nextAttemptAt: r.next_attempt_at as Date | null,
    lastError: r.last_error as PullError | null,
    pagesFetched: r.pages_fetched as number,
    transactionsUpserted: r.transactions_upserted as number,
    createdAt: r.created_at as Date,
    startedAt: r.started_at as Date | null,
    finishedAt: r.finished_at as Date | null,
  };
}

/** What to queue for one connection. */
export type PullRequest = {
  tenantId: string;
  connectionId: string;
  trigger: PullTrigger;
  work: PullWork;
  now: Date;
  /** When the job may run; `now` by default. Merging into a queued job never makes it later. */
  dueAt?: Date;
};

/**
 * Queues `work` for the connection, or merges it into the connection's queued job when there is
 * one (a partial unique index allows only one), and answers the job's id. Run it inside the
 * transaction that records the trigger, so that both or neither are stored.
 */
export async function enqueuePull(db: Db, job: PullRequest): Promise<string> {
  return (await enqueuePulls(db, [job])).get(job.connectionId)!;
}

/**
 * `enqueuePull` for several connections (one request each) in a few statements whatever their
 * number: the queued jobs are locked in connection order, merged and updated together, and the
 * rest inserted together. Answers each connection's job id.
 */
export async function enqueuePulls(db: Db, jobs: PullRequest[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  let pending = [...jobs].sort((a, b) => a.connectionId < b.connectionId ? -1 : 1);
  // A concurrent transaction may queue or claim between the statements; a few rounds settle it.
  for (let round = 0; round < 10 && pending.length > 0; round++) {
    const queued = await db`
      select id, connection_id, work from pull_jobs
      where connection_id = any(${pending.map((j) => j.connectionId)}::uuid[])
        and status = 'queued'
      order by connection_id
      for update`;
    const queuedOf = new Map(queued.map((r) => [r.connection_id as string, r]));
    const merged = pending.flatMap((j) => {
      const row = queuedOf.get(j.connectionId);
      if (!row) return [];
      return [{ id: row.id as string, work: mergeWork(row.work, j.work), due: dueAt(j) }];
    });
    if (merged.length > 0) {
      await db`
        update pull_jobs p
        set work = v.work, next_attempt_at = least(p.next_attempt_at, v.due)
        from jsonb_to_recordset(${JSON.stringify(merged)}::text::jsonb)
          as v(id uuid, work jsonb, due timestamptz)
        where p.id = v.id`;
    }
    for (const row of queued) ids.set(row.connection_id, row.id);
    const fresh = pending.filter((j) => !queuedOf.has(j.connectionId)).map((j) => ({
      id: crypto.randomUUID(),
      tenant_id: j.tenantId,
      connection_id: j.connectionId,
      trigger: j.trigger,
      work: j.work,
      now: j.now.toISOString(),
      due: dueAt(j),
    }));
    if (fresh.length > 0) {
      const created = await db`
        insert into pull_jobs (id, tenant_id, connection_id, trigger, status, work,
                               next_attempt_at, created_at)
        select id, tenant_id, connection_id, trigger, 'queued', work, due,
               date_trunc('milliseconds', now)
        from jsonb_to_recordset(${JSON.stringify(fresh)}::text::jsonb) as v(
          id uuid, tenant_id uuid, connection_id uuid, trigger text, work jsonb, now timestamptz,
          due timestamptz)
        on conflict (connection_id) where status = 'queued' do nothing
        returning id, connection_id`;
      for (const row of created) ids.set(row.connection_id, row.id);
    }
    pending = pending.filter((j) => !ids.has(j.connectionId));
  }
  if (pending.length > 0) {
    throw new Error("could not queue a pull: the connection's queue kept changing");
  }
  return ids;
}

const dueAt = (j: PullRequest) => (j.dueAt ?? j.now).toISOString();

/**
 * The condition on `pull_jobs j` of a job a worker may claim at `now`: queued or retrying, due,
 * and its connection has no running job (at most one runs per connection).
 */
function claimable(db: Db, now: Date) {
  return db`
    j.status in ('queued', 'retrying') and j.next_attempt_at <= ${now}
    and not exists (
      select 1 from pull_jobs r where r.connection_id = j.connection_id and r.status = 'running'
    )`;
}

/** True when some job is claimable at `now`. */
export async function hasClaimablePull(sql: Sql, now: Date): Promise<boolean> {
  const [r] = await sql`select 1 from pull_jobs j where ${claimable(sql, now)} limit 1`;
  return r !== undefined;
}

/**
 * Claims the next due job whose connection has no running job, under a lease until `leaseUntil`.
 * Answers undefined when none is due, or when another claimer took the connection at the same
 * moment (the unique index on running jobs refuses the second; the caller just tries again).
 */
export async function claimPull(
  sql: Sql,
  owner: string,
  now: Date,
  leaseUntil: Date,
): Promise<PullRow | undefined> {
  try {
    const [r] = await sql`
      update pull_jobs set status = 'running', lease_owner = ${owner},
        lease_expires_at = ${leaseUntil}, attempts = attempts + 1, next_attempt_at = null,
        started_at = coalesce(started_at, ${now})
      where id = (
        select j.id from pull_jobs j
        where ${claimable(sql, now)}
        order by j.next_attempt_at, j.created_at
        for update skip locked
        limit 1)
      returning *`;
    return r ? toRow(r) : undefined;
  } catch (err) {
    if (isUniqueViolation(err)) return undefined;
    throw err;
  }
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
  progress: StepProgress & { pages: number; upserted: number; leaseUntil: Date },
): Promise<void> {
  const { step, finished } = progress;
  const cursor = progress.cursor ? tx.json(progress.cursor as unknown as postgres.JSONValue) : null;
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

/** Ends a held job: succeeded, failed or dead. False when the lease was lost. */
export async function finishPull(
  sql: Sql,
  lease: Lease,
  outcome: { status: "succeeded" | "failed" | "dead"; error?: PullError; now: Date },
): Promise<boolean> {
  const result = await sql`
    update pull_jobs set status = ${outcome.status}, finished_at = ${outcome.now},
      last_error = ${outcome.error ? sql.json(outcome.error) : null},
      lease_owner = null, lease_expires_at = null, next_attempt_at = null
    where id = ${lease.jobId} and status = 'running' and lease_owner = ${lease.owner}`;
  return result.count === 1;
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
export async function releasePull(sql: Sql, lease: Lease, now: Date): Promise<boolean> {
  const result = await sql`
    update pull_jobs set status = 'retrying', next_attempt_at = ${now},
      attempts = greatest(attempts - 1, 0), lease_owner = null, lease_expires_at = null
    where id = ${lease.jobId} and status = 'running' and lease_owner = ${lease.owner}`;
  return result.count === 1;
}

/**
 * Running jobs whose lease ran out (their worker died or hung) are due again at once, or dead when
 * they used every attempt. Answers how many were reclaimed.
 */
export async function reclaimExpiredLeases(
  sql: Sql,
  now: Date,
  maxAttempts: number,
): Promise<number> {
  const error: PullError = {
    reason: "worker_lost",
    message: "the worker running this pull stopped before finishing it",
  };
  const result = await sql`
    update pull_jobs set
      status = case when attempts >= ${maxAttempts} then 'dead' else 'retrying' end,
      next_attempt_at = case when attempts >= ${maxAttempts} then null else ${now}::timestamptz end,
      finished_at = case when attempts >= ${maxAttempts} then ${now}::timestamptz end,
      last_error = ${sql.json(error)}, lease_owner = null, lease_expires_at = null
    where status = 'running' and lease_expires_at < ${now}`;
  return result.count;
}

/** Fails every unfinished job of a connection being deleted, inside the deleting transaction. */
export async function cancelConnectionPulls(db: Db, connectionId: string, now: Date) {
  const error: PullError = { reason: "connection_deleted", message: "the connection was deleted" };
  await db`
    update pull_jobs set status = 'failed', finished_at = ${now}, last_error = ${db.json(error)},
      lease_owner = null, lease_expires_at = null, next_attempt_at = null
    where connection_id = ${connectionId} and status in ('queued', 'running', 'retrying')`;
}

export async function findPull(
  sql: Sql,
  tenantId: string,
  id: string,
): Promise<PullRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [r] = await sql`select * from pull_jobs where id = ${id} and tenant_id = ${tenantId}`;
  return r ? toRow(r) : undefined;
}

/** A connection's pulls, newest first; `limit + 1` rows so the caller knows whether there is more. */
export async function listPulls(
  sql: Sql,
  tenantId: string,
  connectionId: string,
  limit: number,
  after?: Position,
): Promise<PullRow[]> {
  const rows = await sql`
    select * from pull_jobs
    where tenant_id = ${tenantId} and connection_id = ${connectionId}
      ${after ? sql`and (created_at, id) < (${after.createdAt}, ${after.id})` : sql``}
    order by created_at desc, id desc
    limit ${limit + 1}`;
  return rows.map(toRow);
}

/** How many jobs of every tenant are in each status now; every status is there, zeros included. */
export async function countPullsByStatus(db: Db): Promise<Record<PullStatus, number>> {
  const rows = await db`select status, count(*)::int as n from pull_jobs group by status`;
  const counts = Object.fromEntries(PULL_STATUSES.map((s) => [s, 0])) as Record<PullStatus, number>;
  for (const r of rows) counts[r.status as PullStatus] = r.n;
  return counts;
}

/**
 * How long the oldest job a worker could claim now (queued or retrying, its `next_attempt_at`
 * passed) has been waiting, in seconds; 0 when none is. A job behind a running pull of its
 * connection is not counted: it waits for that pull, not for a worker, and a long first pull must
 * not look like missing workers (a running pull whose worker died is reclaimed by the sweep).
 */
export async function oldestDueLagSeconds(sql: Db, now: Date): Promise<number> {
  const [r] = await sql`
    select min(j.next_attempt_at) as due from pull_jobs j where ${claimable(sql, now)}`;
  return r.due ? Math.max(0, (now.getTime() - (r.due as Date).getTime()) / 1000) : 0;
}
