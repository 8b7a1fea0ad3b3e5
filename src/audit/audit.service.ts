// The audit trail's rules: a record for every change, written in the change's own transaction (or,
// for a change kept in Deno KV, around its commit), an event for each when events are on, and the
// newest-first listing.
import type { components } from "../../generated/types.ts";
import type { Db, Sql } from "../db/pool.ts";
import { auditLogCreated } from "../events/event_bodies.ts";
import { appendEvents, type NewEvent } from "../events/events.repository.ts";
import type { Outbox } from "../events/outbox.ts";
import { afterCursor, toPage } from "../http/pagination.ts";
import { AppError } from "../lib/app_error.ts";
import type { Caller } from "../lib/caller.ts";
import { errorSummary } from "../lib/error_summary.ts";
import type { Logger } from "../lib/logger.ts";
import { uuidV7 } from "../lib/uuid_v7.ts";
import * as repo from "./audit.repository.ts";

type Schemas = components["schemas"];

export interface AuditDeps {
  sql: Sql;
  /** The time each record is stamped with (its id is a UUID v7 of the same millisecond). */
  now: () => number;
  /** Present when events are on: each record is also an event, in the record's transaction. */
  outbox?: Outbox;
  logger: Logger;
}

/** What a writer says about its change: the caller, an id and the time are added to it. */
export interface AuditEntry {
  action: repo.AuditAction;
  target: repo.AuditTarget;
  connectionId: string;
  details: repo.AuditDetails;
}

/** A record to write, and the vendor of its connection, which its event carries. */
export interface Audit {
  record: repo.AuditRecord;
  vendor: string;
}

/** The record of `entry` made by `caller`, stamped now. */
export function newAudit(
  deps: Pick<AuditDeps, "now">,
  caller: Caller,
  entry: AuditEntry & { vendor: string },
): Audit {
  const nowMs = deps.now();
  const { vendor, ...fields } = entry;
  return {
    record: {
      id: uuidV7(nowMs),
      tenantId: caller.tenantId,
      actor: caller.actor,
      requestId: caller.requestId,
      occurredAt: new Date(nowMs),
      ...fields,
    },
    vendor,
  };
}

/**
 * Writes the record inside `tx`, the transaction of the change it records, and its event (after
 * `events`, the change's own, which share the connection's outbox numbering) when events are on.
 * Call it last in the transaction: the outbox holds the connection's event head until commit.
 */
export async function writeAudit(
  tx: Db,
  deps: Pick<AuditDeps, "outbox">,
  audit: Audit,
  events: NewEvent[] = [],
  traceparent?: string,
): Promise<void> {
  await repo.insertAuditRecord(tx, audit.record);
  await appendAuditEvent(tx, deps, audit, events, traceparent);
}

/** The record's event, after `events`, when events are on. */
async function appendAuditEvent(
  tx: Db,
  deps: Pick<AuditDeps, "outbox">,
  audit: Audit,
  events: NewEvent[] = [],
  traceparent?: string,
): Promise<void> {
  if (!deps.outbox) return;
  const { tenantId, connectionId } = audit.record;
  const all = [...events, auditLogCreated(audit.record, audit.vendor)];
  await appendEvents(tx, { tenantId, connectionId }, all, traceparent);
}

/** Records something that changed nothing (a live test run), after it happened. */
export async function recordOutcome(deps: AuditDeps, audit: Audit): Promise<void> {
  if (deps.outbox) await deps.sql.begin((tx) => writeAudit(tx, deps, audit));
  else await repo.insertAuditRecord(deps.sql, audit.record);
  deps.outbox?.written();
}

/** A change kept in Deno KV: its commit, and, for a change that can be taken back, its undoing. */
export interface KvChange<T> {
  commit(): Promise<T>;
  /** Absent: the change is never taken back (a revoke stays revoked). */
  undo?(result: T): Promise<void>;
}

/**
 * Makes a Deno KV change and records it, so that neither stands without the other although KV
 * and Postgres share no transaction: the record is inserted, then KV commits, then Postgres does.
 * A KV commit that fails (or a change that throws) rolls the record back: nothing happened. A
 * Postgres commit that fails after KV committed, or whose outcome is unknown (the connection lost
 * during COMMIT), is settled: see `settle`.
 */
export async function recordKvChange<T>(
  deps: AuditDeps,
  audit: Audit,
  change: KvChange<T>,
): Promise<T> {
  let made: { result: T } | undefined;
  try {
    await deps.sql.begin(async (tx) => {
      await repo.insertAuditRecord(tx, audit.record);
      made = { result: await change.commit() };
      await appendAuditEvent(tx, deps, audit);
    });
  } catch (err) {
    if (!made) throw err;
    return await settle(deps, audit, change, made.result, err);
  }
  deps.outbox?.written();
  return made!.result; // set inside the transaction that just committed
}

/**
 * After KV committed and Postgres did not (as far as we know). A change that can be undone (a
 * minted token, never shown to anyone yet) stands if its record committed after all, and is
 * undone otherwise: the caller gets a 503 and may send the request again. A change that must
 * stand (a revoke: taking it back would bring back a token its tenant wanted gone) gets its
 * record written again, in a transaction of its own and at most once by its id; if even that
 * fails, the record is logged in full for the operator to insert, and the caller gets a 503.
 */
async function settle<T>(
  deps: AuditDeps,
  audit: Audit,
  change: KvChange<T>,
  result: T,
  cause: unknown,
): Promise<T> {
  const { record } = audit;
  const about = { auditEventId: record.id, action: record.action, targetId: record.target.id };
  if (change.undo) {
    let committed: boolean | undefined;
    try {
      committed = await repo.auditRecordExists(deps.sql, record.id);
    } catch {
      committed = undefined; // unknown: undone below, as a change nobody has seen yet
    }
    if (committed) {
      deps.outbox?.written();
      return result;
    }
    try {
      await change.undo(result);
    } catch (err) {
      deps.logger.error({ msg: "audited change not undone", ...about, error: errorSummary(err) });
      throw unrecorded("The change could not be recorded; try again.");
    }
    deps.logger.warn({
      msg: committed === undefined
        ? "change undone: whether its audit record committed is unknown"
        : "change undone: its audit record did not commit",
      ...about,
      error: errorSummary(cause),
    });
    throw unrecorded("The change could not be recorded, and was undone; try again.");
  }
  try {
    await deps.sql.begin(async (tx) => {
      if (await repo.insertAuditRecord(tx, record, { ifAbsent: true })) {
        await appendAuditEvent(tx, deps, audit);
      }
    });
  } catch (err) {
    deps.logger.error({
      msg: "audit record not written; the change stands",
      record: { ...record, occurredAt: record.occurredAt.toISOString() },
      error: errorSummary(err),
    });
    throw unrecorded("The change was made, but could not be recorded yet; the operator was told.");
  }
  deps.outbox?.written();
  return result;
}

function unrecorded(message: string): AppError {
  return new AppError("unavailable", message, { retryAfterSeconds: 1 });
}

/** One page of the tenant's audit trail, newest first. */
export async function listAuditEvents(
  deps: { sql: Sql },
  tenantId: string,
  query: { limit: number; cursor?: string; targetId?: string; action?: repo.AuditAction },
): Promise<Schemas["AuditEventPage"]> {
  const after = afterCursor(query.cursor);
  const filter = { targetId: query.targetId?.toLowerCase(), action: query.action };
  const records = await repo.listAuditRecords(deps.sql, tenantId, query.limit, filter, after);
  const rows = records.map((r) => ({ ...r, createdAt: r.occurredAt }));
  return toPage(rows, query.limit, (r): Schemas["AuditEvent"] => ({
    id: r.id,
    tenantId: r.tenantId,
    action: r.action,
    target: r.target,
    connectionId: r.connectionId,
    actor: r.actor,
    requestId: r.requestId,
    occurredAt: r.occurredAt.toISOString(),
    details: r.details,
  }));
}
