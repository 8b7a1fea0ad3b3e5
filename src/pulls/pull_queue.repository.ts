// Queueing pull jobs: merging triggers into a connection's queued job, claims, cancellation.
import { isUniqueViolation } from "../db/errors.ts";
import type { Db, Sql } from "../db/pool.ts";
import { type PullRow, type PullTrigger, toRow } from "./pulls.repository.ts";
import { mergeWork, type PullWork } from "./work.ts";
import type { PullError } from "./pulls.repository.ts";
import type { EndedPull } from "../events/event_bodies.ts";
import { toEndedPull } from "./pull_leases.repository.ts";

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
