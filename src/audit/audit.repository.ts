// Storage of the audit trail: one insert per change (inside the change's transaction) and the
// newest-first listing. Rows are never updated or deleted here (the table's triggers refuse it).
import type { components } from "../../generated/types.ts";
import type { Db, Sql } from "../db/pool.ts";
import type { Actor } from "../lib/caller.ts";
import type { Position } from "../lib/position.ts";

type Schemas = components["schemas"];
export type AuditAction = Schemas["AuditAction"];
export type AuditDetails = Schemas["AuditDetails"];
export type AuditTarget = Schemas["AuditTarget"];

/** One row of audit_events. */
export interface AuditRecord {
  id: string;
  tenantId: string;
  action: AuditAction;
  target: AuditTarget;
  connectionId: string;
  actor: Actor;
  requestId: string;
  occurredAt: Date;
  details: AuditDetails;
}

/**
 * Inserts `record`: one statement, on the write path of every change. With `ifAbsent`, a row
 * already holding its id (an earlier attempt that committed after all) is kept as it is. Answers
 * whether it inserted.
 */
export async function insertAuditRecord(
  db: Db,
  record: AuditRecord,
  options: { ifAbsent?: boolean } = {},
): Promise<boolean> {
  const result = await db`
    insert into audit_events (id, tenant_id, action, target_type, target_id, connection_id,
                              actor_subject, actor_issuer, request_id, occurred_at, details)
    values (${record.id}, ${record.tenantId}, ${record.action}, ${record.target.type},
            ${record.target.id}, ${record.connectionId}, ${record.actor.subject},
            ${record.actor.issuer}, ${record.requestId}, ${record.occurredAt},
            ${db.json(record.details as Record<string, never>)})
    ${options.ifAbsent ? db`on conflict (id) do nothing` : db``}`;
  return result.count === 1;
}

/** True when the record `id` was committed. */
export async function auditRecordExists(sql: Sql, id: string): Promise<boolean> {
  const [r] = await sql`select 1 from audit_events where id = ${id}`;
  return r !== undefined;
}

/** What the listing may be narrowed to. */
export interface AuditFilter {
  targetId?: string;
  action?: AuditAction;
}

/**
 * The tenant's records newest first, after `after` (the last record of the previous page), each
 * filter an index of its own; fetches `limit + 1` so the caller knows whether there is more.
 */
export async function listAuditRecords(
  sql: Sql,
  tenantId: string,
  limit: number,
  filter: AuditFilter,
  after?: Position,
): Promise<AuditRecord[]> {
  const rows = await sql`
    select id, tenant_id, action, target_type, target_id, connection_id, actor_subject,
           actor_issuer, request_id, occurred_at, details
    from audit_events
    where tenant_id = ${tenantId}
      ${filter.targetId ? sql`and target_id = ${filter.targetId}` : sql``}
      ${filter.action ? sql`and action = ${filter.action}` : sql``}
      ${after ? sql`and (occurred_at, id) < (${after.createdAt}, ${after.id})` : sql``}
    order by occurred_at desc, id desc
    limit ${limit + 1}`;
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    action: r.action,
    target: { type: r.target_type, id: r.target_id },
    connectionId: r.connection_id,
    actor: { subject: r.actor_subject, issuer: r.actor_issuer },
    requestId: r.request_id,
    occurredAt: r.occurred_at,
    details: r.details,
  }));
}
