// The events this service publishes on matcher.events, as outbox rows: routing key and body.
import type { components } from "../../generated/types.ts";
import type { AuditRecord } from "../audit/audit.repository.ts";
import type { NewEvent } from "./events.repository.ts";

type PullError = components["schemas"]["PullError"];

/**
 * Routing keys: Matcher's `<context>.<event>`, in the discovery context. The body of
 * `transactions.changed` is written by Postgres from the rows a page store wrote
 * (`writeChangesEvent` in events.repository.ts), like the feed's items.
 */
export const ROUTING_KEYS = {
  transactionsChanged: "discovery.transactions.changed",
  pullCompleted: "discovery.pull.completed",
  pullFailed: "discovery.pull.failed",
  connectionDeleted: "discovery.connection.deleted",
  auditLogCreated: "discovery.audit_log_created",
} as const;

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
