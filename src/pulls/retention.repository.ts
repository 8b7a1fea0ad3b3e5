// History retention: webhook events and finished pulls older than the retention period are deleted.
import type { Sql } from "../db/pool.ts";

/** Rows one statement deletes, so a first prune of a large backlog never holds long locks. */
const BATCH = 5_000;
/** Statements one prune runs at most; the next sweep goes on where this one stopped. */
const MAX_BATCHES = 20;

/**
 * Deletes webhook events received, and finished (succeeded, failed, dead) pulls that finished,
 * before `before`, a batch at a time. Transactions and watermarks are never deleted. Answers how
 * many rows of each went.
 */
export async function pruneHistory(
  sql: Sql,
  before: Date,
): Promise<{ webhookEvents: number; pulls: number }> {
  let webhookEvents = 0;
  let pulls = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const events = await sql`
      delete from webhook_events where id in (
        select id from webhook_events where received_at < ${before} limit ${BATCH})`;
    const jobs = await sql`
      delete from pull_jobs where id in (
        select id from pull_jobs
        where status in ('succeeded', 'failed', 'dead') and finished_at < ${before}
        limit ${BATCH})`;
    webhookEvents += events.count;
    pulls += jobs.count;
    if (events.count < BATCH && jobs.count < BATCH) break;
  }
  return { webhookEvents, pulls };
}
