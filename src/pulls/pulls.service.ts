// The pull routes' rules: the connection must be the tenant's, and pulls leave as the Pull schema.
import type { components } from "../../generated/types.ts";
import { type AuditDeps, newAudit, writeAudit } from "../audit/audit.service.ts";
import { requireConnection } from "../connections/connections.service.ts";
import type { Sql } from "../db/pool.ts";
import { afterCursor, toPage } from "../http/pagination.ts";
import { AppError } from "../lib/app_error.ts";
import type { Caller } from "../lib/caller.ts";
import { enqueuePull, type PullRequest } from "./pull_queue.repository.ts";
import * as repo from "./pulls.repository.ts";

type Pull = components["schemas"]["Pull"];

/** With AuditDeps: every request and retry is recorded in the transaction that queues it. */
export interface PullServiceDeps extends AuditDeps {
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
  caller: Caller,
  connectionId: string,
): Promise<Pull> {
  const { tenantId } = caller;
  const connection = await requireConnection(deps.sql, tenantId, { id: connectionId });
  const pull = await queueAudited(deps, caller, {
    request: { tenantId, connectionId, trigger: "manual", work: { sync: true } },
    vendor: connection.vendor,
    action: "pull.requested",
  });
  deps.onPullQueued();
  return toPull(pull);
}

/**
 * Queues `request` and records it, in one transaction; answers the queued pull (a new one, or the
 * connection's queued pull that absorbed the work). A request's target is the pull it queued; a
 * retry's is the finished pull it runs again.
 */
async function queueAudited(
  deps: PullServiceDeps,
  caller: Caller,
  job: {
    request: Omit<PullRequest, "now" | "idsPerAccount">;
    vendor: string;
    action: "pull.requested" | "pull.retried";
    retried?: string;
  },
): Promise<repo.PullRow> {
  const { tenantId, connectionId } = job.request;
  const pull = await deps.sql.begin(async (tx) => {
    const id = await enqueuePull(tx, {
      ...job.request,
      now: new Date(deps.now()),
      idsPerAccount: deps.idsPerAccount,
    });
    const queued = await repo.findPull(tx, tenantId, id);
    if (!queued) throw new Error(`the pull ${id} just queued is not there`);
    const audit = newAudit(deps, caller, {
      action: job.action,
      target: { type: "pull", id: job.retried ?? id },
      connectionId,
      vendor: job.vendor,
      details: { pullId: id, trigger: queued.trigger },
    });
    await writeAudit(tx, deps, audit);
    return queued;
  });
  deps.outbox?.written();
  return pull;
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
  caller: Caller,
  id: string,
): Promise<Pull> {
  const { tenantId } = caller;
  const finished = await repo.findPull(deps.sql, tenantId, id);
  if (!finished) throw pullNotFound();
  if (!["succeeded", "failed", "dead"].includes(finished.status)) {
    throw new AppError(
      "pull_not_finished",
      `The pull is ${finished.status}; it runs on its own.`,
    );
  }
  const connection = await requireConnection(deps.sql, tenantId, { id: finished.connectionId });
  const pull = await queueAudited(deps, caller, {
    request: {
      tenantId,
      connectionId: finished.connectionId,
      trigger: "manual",
      work: finished.work,
      itemsOf: finished.id,
    },
    vendor: connection.vendor,
    action: "pull.retried",
    retried: finished.id,
  });
  deps.onPullQueued();
  return toPull(pull);
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
