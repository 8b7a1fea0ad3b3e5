// The events this service publishes on matcher.events, as outbox rows: routing key and body.
import type { components } from "../../generated/types.ts";
import type { AuditRecord } from "../audit/audit.repository.ts";
import { toChange } from "../changes/changes.service.ts";
import type { ChangeRow } from "../transactions/transactions.repository.ts";
import type { NewEvent } from "./events.repository.ts";

type PullError = components["schemas"]["PullError"];

/** Routing keys: Matcher's `<context>.<event>`, in the discovery context. */
export const ROUTING_KEYS = {
  transactionsChanged: "discovery.transactions.changed",
  pullCompleted: "discovery.pull.completed",
  pullFailed: "discovery.pull.failed",
  connectionDeleted: "discovery.connection.deleted",
  auditLogCreated: "discovery.audit_log_created",
} as const;

/** A stored page's (or a deletion's) changes, as the feed shows them; none when nothing changed. */
export function transactionsChanged(
  owner: { tenantId: string; connectionId: string; vendor: string; pullId: string },
  rows: ChangeRow[],
  now: Date,
): NewEvent[] {
  if (!rows.length) return [];
  // Each row once, in its last state, in feed order: the change as the feed shows it.
  const last = new Map<string, ChangeRow>();
  for (const row of [...rows].sort(byPosition)) {
    last.delete(row.id);
    last.set(row.id, row);
  }
  const sorted = [...last.values()];
  return [{
    routingKey: ROUTING_KEYS.transactionsChanged,
    body: {
      eventType: ROUTING_KEYS.transactionsChanged,
      tenantId: owner.tenantId,
      connectionId: owner.connectionId,
      vendor: owner.vendor,
      pullId: owner.pullId,
      changeCount: sorted.length,
      changes: sorted.map(toChange),
      timestamp: now.toISOString(),
    },
  }];
}

function byPosition(a: ChangeRow, b: ChangeRow): number {
  const x = BigInt(a.changeXid) - BigInt(b.changeXid);
  const s = x === 0n ? BigInt(a.changeSeq) - BigInt(b.changeSeq) : x;
  return s < 0n ? -1 : s > 0n ? 1 : 0;
}

/** A pull that ended: `discovery.pull.completed`, or `discovery.pull.failed` (failed or dead). */
export interface EndedPull {
  id: string;
  tenantId: string;
  connectionId: string;
  vendor: string;
  trigger: string;
  status: "succeeded" | "failed" | "dead";
  attempts: number;
  pagesFetched: number;
  transactionsUpserted: number;
  lastError: PullError | null;
  startedAt: Date | null;
  finishedAt: Date;
}

export function pullEnded(pull: EndedPull, now: Date): NewEvent {
  const routingKey = pull.status === "succeeded"
    ? ROUTING_KEYS.pullCompleted
    : ROUTING_KEYS.pullFailed;
  return {
    routingKey,
    body: {
      eventType: routingKey,
      tenantId: pull.tenantId,
      connectionId: pull.connectionId,
      vendor: pull.vendor,
      pullId: pull.id,
      trigger: pull.trigger,
      status: pull.status,
      attempts: pull.attempts,
      pagesFetched: pull.pagesFetched,
      transactionsUpserted: pull.transactionsUpserted,
      ...(pull.status === "succeeded" ? {} : { error: pull.lastError }),
      startedAt: pull.startedAt?.toISOString() ?? null,
      finishedAt: pull.finishedAt.toISOString(),
      timestamp: now.toISOString(),
    },
  };
}

/** A connection deleted, with every transaction it had stored (now `deleted` in the feed). */
export function connectionDeleted(
  connection: { tenantId: string; connectionId: string; vendor: string },
  transactionsDeleted: number,
  now: Date,
): NewEvent {
  return {
    routingKey: ROUTING_KEYS.connectionDeleted,
    body: {
      eventType: ROUTING_KEYS.connectionDeleted,
      tenantId: connection.tenantId,
      connectionId: connection.connectionId,
      vendor: connection.vendor,
      transactionsDeleted,
      deletedAt: now.toISOString(),
      timestamp: now.toISOString(),
    },
  };
}

/** An audit record, as Matcher publishes its own `governance.audit_log_created`. */
export function auditLogCreated(record: AuditRecord, vendor: string): NewEvent {
  return {
    routingKey: ROUTING_KEYS.auditLogCreated,
    body: {
      eventType: ROUTING_KEYS.auditLogCreated,
      tenantId: record.tenantId,
      connectionId: record.connectionId,
      vendor,
      auditEventId: record.id,
      action: record.action,
      target: record.target,
      actor: record.actor,
      requestId: record.requestId,
      occurredAt: record.occurredAt.toISOString(),
      details: record.details,
      timestamp: record.occurredAt.toISOString(),
    },
  };
}
