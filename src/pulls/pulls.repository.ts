// Reading pull jobs for the API: one pull of the tenant, and a connection's pulls newest first.
import type { components } from "../../generated/types.ts";
import type { Db, Sql } from "../db/pool.ts";
import type { Position } from "../lib/position.ts";
import { isUuid } from "../lib/uuid.ts";
import type { Checkpoint, StoredWork } from "./work.ts";

type Pull = components["schemas"]["Pull"];
export type PullStatus = Pull["status"];
export type PullTrigger = Pull["trigger"];
export type PullError = components["schemas"]["PullError"];

/** A pull job as stored: the spec's Pull with its times as Dates, plus what the worker needs. */
export type PullRow =
  & Omit<Pull, "nextAttemptAt" | "createdAt" | "startedAt" | "finishedAt">
  & {
    tenantId: string;
    /** The part of the work its row keeps; the transaction ids are rows of their own. */
    work: StoredWork;
    checkpoint: Checkpoint;
    nextAttemptAt: Date | null;
    createdAt: Date;
    startedAt: Date | null;
    finishedAt: Date | null;
  };

/** A `pull_jobs` row as postgres.js returns it, in the shape the rest of the service uses. */
export function toRow(r: Record<string, unknown>): PullRow {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    connectionId: r.connection_id as string,
    trigger: r.trigger as PullTrigger,
    status: r.status as PullStatus,
    work: r.work as StoredWork,
    checkpoint: r.checkpoint as Checkpoint,
    attempts: r.attempts as number,
    nextAttemptAt: r.next_attempt_at as Date | null,
    lastError: r.last_error as PullError | null,
    pagesFetched: r.pages_fetched as number,
    transactionsUpserted: r.transactions_upserted as number,
    transactionsSkipped: r.transactions_skipped as number,
    skippedTransactions: r.skipped_transactions as Pull["skippedTransactions"],
    createdAt: r.created_at as Date,
    startedAt: r.started_at as Date | null,
    finishedAt: r.finished_at as Date | null,
  };
}

/**
 * The tenant's pull `id`, or undefined (a malformed id, or a pull of a connection that is not an
 * aggregator connection, included). A pull of a deleted aggregator connection is still found: it
 * is the tenant's history.
 */
export async function findPull(
  sql: Db,
  tenantId: string,
  id: string,
): Promise<PullRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [r] = await sql`
    select p.* from pull_jobs p
    join connections c
      on c.id = p.connection_id and c.tenant_id = p.tenant_id and c.kind = 'aggregator'
    where p.id = ${id} and p.tenant_id = ${tenantId}`;
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
