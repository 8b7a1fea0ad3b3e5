// The pull routes' rules: the connection must be the tenant's, and pulls leave as the Pull schema.
import type { components } from "../../generated/types.ts";
import { requireConnection } from "../connections/connections.service.ts";
import type { Sql } from "../db/pool.ts";
import { afterCursor, toPage } from "../http/pagination.ts";
import { AppError } from "../lib/app_error.ts";
import { enqueuePull } from "./pull_queue.repository.ts";
import * as repo from "./pulls.repository.ts";

type Pull = components["schemas"]["Pull"];

export interface PullServiceDeps {
  sql: Sql;
  now: () => number;
  onPullQueued: () => void;
  /** Ids to fetch again one account of a queued pull may hold before it is walked whole. */
  idsPerAccount: number;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toPull(row: repo.PullRow): Pull {
  return {
    id: row.id,
    connectionId: row.connectionId,
    trigger: row.trigger,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: iso(row.nextAttemptAt),
    lastError: row.lastError,
    pagesFetched: row.pagesFetched,
    transactionsUpserted: row.transactionsUpserted,
    transactionsSkipped: row.transactionsSkipped,
    skippedTransactions: row.skippedTransactions,
    createdAt: row.createdAt.toISOString(),
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
  };
}

/** Queues a pull of every account from its watermark, or merges into the queued one. */
export async function requestPull(
  deps: PullServiceDeps,
  tenantId: string,
  connectionId: string,
): Promise<Pull> {
  await requireConnection(deps.sql, tenantId, { id: connectionId });
  const id = await enqueuePull(deps.sql, {
    tenantId,
    connectionId,
    trigger: "manual",
    work: { sync: true },
    now: new Date(deps.now()),
    idsPerAccount: deps.idsPerAccount,
  });
  deps.onPullQueued();
  return getPull(deps, tenantId, id);
}

function pullNotFound(): AppError {
  return new AppError("pull_not_found", "No such pull.");
}

export async function getPull(deps: { sql: Sql }, tenantId: string, id: string): Promise<Pull> {
  const row = await repo.findPull(deps.sql, tenantId, id);
  if (!row) throw pullNotFound();
  return toPull(row);
}

/**
 * Queues a finished pull's work again (or merges it into the connection's queued pull), so that
 * the ids and timestamps its webhooks announced are not lost when it failed or died.
 */
export async function retryPull(
  deps: PullServiceDeps,
  tenantId: string,
  id: string,
): Promise<Pull> {
  const finished = await repo.findPull(deps.sql, tenantId, id);
  if (!finished) throw pullNotFound();
  if (!["succeeded", "failed", "dead"].includes(finished.status)) {
    throw new AppError(
      "pull_not_finished",
      `The pull is ${finished.status}; it runs on its own.`,
    );
  }
  await requireConnection(deps.sql, tenantId, { id: finished.connectionId });
  const queued = await enqueuePull(deps.sql, {
    tenantId,
    connectionId: finished.connectionId,
    trigger: "manual",
    work: finished.work,
    itemsOf: finished.id,
    now: new Date(deps.now()),
    idsPerAccount: deps.idsPerAccount,
  });
  deps.onPullQueued();
  return getPull(deps, tenantId, queued);
}

export async function listPulls(
  deps: { sql: Sql },
  tenantId: string,
  connectionId: string,
  query: { limit: number; cursor?: string },
) {
  const after = afterCursor(query.cursor);
  await requireConnection(deps.sql, tenantId, { id: connectionId });
  const rows = await repo.listPulls(deps.sql, tenantId, connectionId, query.limit, after);
  return toPage(rows, query.limit, toPull);
}
