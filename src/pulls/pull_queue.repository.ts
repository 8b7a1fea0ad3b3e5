// Queueing pull jobs: merging triggers into a connection's queued job, claims, cancellation.
import type postgres from "postgres";
import { isUniqueViolation } from "../db/errors.ts";
import type { Db, Sql } from "../db/pool.ts";
import { type PullError, type PullRow, type PullTrigger, toRow } from "./pulls.repository.ts";
import { joinWork, type PullItem, type PullWork, splitWork } from "./work.ts";
import type { EndedPull } from "../events/event_bodies.ts";
import { toEndedPull } from "./pull_leases.repository.ts";

/** What to queue for one connection. */
export type PullRequest = {
  tenantId: string;
  connectionId: string;
  trigger: PullTrigger;
  work: PullWork;
  /** A finished pull whose transaction ids are queued again with `work` (a retry). */
  itemsOf?: string;
  now: Date;
  /** When the job may run; `now` by default. Merging into a queued job never makes it later. */
  dueAt?: Date;
  /** Ids to fetch again that one account may hold before it is walked whole. */
  idsPerAccount: number;
};

/**
 * Queues `work` for the connection, or merges it into the connection's queued job when there is
 * one (a partial unique index allows only one), and answers the job's id: `queue_pulls` in
 * migration 0006, the same function that records webhooks uses.
 */
export async function enqueuePull(db: Db, job: PullRequest): Promise<string> {
  const { work, items } = splitWork(job.work);
  const [r] = await db`
    select pull_id from queue_pulls(jsonb_build_array(jsonb_build_object(
      'tenant_id', ${job.tenantId}::uuid, 'connection_id', ${job.connectionId}::uuid,
      'trigger', ${job.trigger}::text, 'work', ${db.json(work)}::jsonb,
      'items', ${db.json(items as unknown as postgres.JSONValue)}::jsonb || coalesce((
        select jsonb_agg(jsonb_build_object('kind', i.kind, 'account', i.account_id,
                                            'id', i.external_id))
        from pull_job_items i where i.pull_id = ${job.itemsOf ?? null}::uuid), '[]'),
      'created', ${job.now}::timestamptz, 'due', ${job.dueAt ?? job.now}::timestamptz)),
      ${job.idsPerAccount})`;
  return r.pull_id;
}

/** A claimed job with its whole work: the row's part and its transaction ids. */
export type ClaimedPull = Omit<PullRow, "work"> & { work: PullWork };

/**
 * The condition on `pull_jobs j` of a job a worker may claim at `now`: queued or retrying, due,
 * and its connection has no running job (at most one runs per connection).
 */
export function claimable(db: Db, now: Date) {
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
): Promise<ClaimedPull | undefined> {
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
    if (!r) return undefined;
    const row = toRow(r);
    const items = await sql<PullItem[]>`
      select kind, account_id as account, external_id as id from pull_job_items
      where pull_id = ${row.id} order by kind, account_id, external_id`;
    return { ...row, work: joinWork(row.work, items) };
  } catch (err) {
    if (isUniqueViolation(err)) return undefined;
    throw err;
  }
}

/**
 * Fails every unfinished job of a connection being deleted, inside the deleting transaction;
 * answers those that had started (queued ones never ran).
 */
export async function cancelConnectionPulls(
  db: Db,
  connectionId: string,
  now: Date,
): Promise<EndedPull[]> {
  const error: PullError = { reason: "connection_deleted", message: "the connection was deleted" };
  const rows = await db`
    update pull_jobs set status = 'failed', finished_at = ${now}, last_error = ${db.json(error)},
      lease_owner = null, lease_expires_at = null, next_attempt_at = null
    where connection_id = ${connectionId} and status in ('queued', 'running', 'retrying')
    returning id, tenant_id, connection_id, trigger, status, attempts, pages_fetched,
      transactions_upserted, last_error, started_at, finished_at,
      (select connector_type from connections c where c.id = connection_id) as vendor`;
  return rows.map(toEndedPull);
}
