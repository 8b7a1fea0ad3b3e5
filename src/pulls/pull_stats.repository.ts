// Aggregates over every tenant's pull jobs for the metrics: jobs by status, and the oldest due lag.
import type postgres from "postgres";
import { zPullStatus } from "../../generated/zod/zod.gen.ts";
import type { Db, Sql } from "../db/pool.ts";
import { claimable } from "./pull_queue.repository.ts";
import type { PullStatus } from "./pulls.repository.ts";

/** Every status a pull job can be in, in the spec's order. */
export const PULL_STATUSES: readonly PullStatus[] = zPullStatus.options;

/** How many jobs of every tenant are in each status now; every status is there, zeros included. */
async function countPullsByStatus(db: Db): Promise<Record<PullStatus, number>> {
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
async function oldestDueLagSeconds(sql: Db, now: Date): Promise<number> {
  const [r] = await sql`
    select min(j.next_attempt_at) as due from pull_jobs j where ${claimable(sql, now)}`;
  return r.due ? Math.max(0, (now.getTime() - (r.due as Date).getTime()) / 1000) : 0;
}

/**
 * Both figures read in one transaction that Postgres gives up on after `timeoutMs`, so that a
 * scrape never leaves a slow query behind.
 */
export function readPullStats(
  sql: Sql,
  now: Date,
  timeoutMs: number,
): Promise<{ counts: Record<PullStatus, number>; oldestDueLagSeconds: number }> {
  return sql.begin(async (tx: postgres.TransactionSql) => {
    await tx`select set_config('statement_timeout', ${String(timeoutMs)}, true)`;
    return {
      counts: await countPullsByStatus(tx),
      oldestDueLagSeconds: await oldestDueLagSeconds(tx, now),
    };
  });
}
