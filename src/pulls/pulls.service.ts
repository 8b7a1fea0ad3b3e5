// The pull routes' rules: the connection must be the tenant's, and pulls leave as the Pull schema.
import type { components } from "../../generated/types.ts";
import { notFound } from "../connections/connections.service.ts";
import * as connections from "../connections/connections.repository.ts";
import type { Sql } from "../db/pool.ts";
import { AppError, ErrorCode } from "../http/errors.ts";
import { decodeCursor, toPage } from "../http/pagination.ts";
import * as repo from "./pulls.repository.ts";

type Pull = components["schemas"]["Pull"];

export interface PullServiceDeps {
  sql: Sql;
  now: () => number;
  onPullQueued: () => void;
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
    createdAt: row.createdAt.toISOString(),
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
  };
}

async function requireConnection(sql: Sql, tenantId: string, id: string) {
  const row = await connections.findConnection(sql, tenantId, id);
  if (!row) throw notFound();
  return row;
}

/** Queues a pull of every account from its watermark, or merges into the queued one. */
export async function requestPull(
  deps: PullServiceDeps,
  tenantId: string,
  connectionId: string,
): Promise<Pull> {
  await requireConnection(deps.sql, tenantId, connectionId);
  const id = await repo.enqueuePull(deps.sql, {
    tenantId,
    connectionId,
    trigger: "manual",
    work: { sync: true },
    now: new Date(deps.now()),
  });
  deps.onPullQueued();
  return getPull(deps, tenantId, id);
}

function pullNotFound(): AppError {
  return new AppError(404, ErrorCode.pullNotFound, "No such pull.");
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
      409,
      ErrorCode.pullNotFinished,
      `The pull is ${finished.status}; it runs on its own.`,
    );
  }
  await requireConnection(deps.sql, tenantId, finished.connectionId);
  const queued = await repo.enqueuePull(deps.sql, {
    tenantId,
    connectionId: finished.connectionId,
    trigger: "manual",
    work: finished.work,
    now: new Date(deps.now()),
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
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  await requireConnection(deps.sql, tenantId, connectionId);
  const rows = await repo.listPulls(deps.sql, tenantId, connectionId, query.limit, after);
  return toPage(rows, query.limit, toPull);
}
