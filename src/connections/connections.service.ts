// Connection rules: input normalization, the egress check, sealing, and the one-404 policy.
import type { components } from "../../generated/types.ts";
import { type AuditDeps, newAudit, writeAudit } from "../audit/audit.service.ts";
import type { KeyRing } from "../crypto/seal.ts";
import type { Sql } from "../db/pool.ts";
import { AppError } from "../lib/app_error.ts";
import type { Caller } from "../lib/caller.ts";
import { afterCursor, toPage } from "../http/pagination.ts";
import { connectionDeleted, pullEnded } from "../events/event_bodies.ts";
import { cancelConnectionPulls } from "../pulls/pull_queue.repository.ts";
import {
  lockConnectionRows,
  markConnectionDeleted,
} from "../transactions/transactions.repository.ts";
import { checkBaseUrl, type EgressPolicy } from "../vendors/egress.ts";
import type { Vendor } from "../vendors/vendors.ts";
import { revokeConnectionTokens } from "../webhooks/tokens.repository.ts";
import { sealCredential } from "./credential.ts";
import * as repo from "./connections.repository.ts";

type Schemas = components["schemas"];
type Descriptor = Schemas["AggregatorConnection"];

/** With AuditDeps: every change writes its audit record (and, with events on, a delete its
 * events) in its own transaction. */
export interface ConnectionDeps extends AuditDeps {
  keyRing: KeyRing;
  egress: EgressPolicy;
  /** Holds the connection's webhook tokens, which die with it. */
  kv: Deno.Kv;
}

/** The one answer for a connection that is not a live aggregator connection of the tenant. */
function notFound(): AppError {
  return new AppError("connection_not_found", "No such aggregator connection.");
}

/**
 * The tenant's live aggregator connection named by `key`; anything else (a malformed id, another
 * tenant's, a deleted or non-aggregator row) is the same 404. Every route that names a connection
 * goes through here.
 */
export async function requireConnection(
  sql: Sql,
  tenantId: string,
  key: repo.ConnectionKey,
): Promise<repo.ConnectionRow> {
  const row = await repo.findConnection(sql, tenantId, trimmed(key));
  if (!row) throw notFound();
  return row;
}

/** `requireConnection` with the sealed credential, for the routes that call the vendor. */
export async function requireSealedConnection(
  sql: Sql,
  tenantId: string,
  key: repo.ConnectionKey,
): Promise<repo.SealedConnection> {
  const found = await repo.findSealedConnection(sql, tenantId, trimmed(key));
  if (!found) throw notFound();
  return found;
}

/** Config names are stored trimmed, so a name given with surrounding space finds its row. */
function trimmed(key: repo.ConnectionKey): repo.ConnectionKey {
  return "id" in key ? key : { vendor: key.vendor, configName: key.configName.trim() };
}

/** The secret-free descriptor: the only shape in which a connection leaves the service. */
export function toDescriptor(row: repo.ConnectionRow): Descriptor {
  return {
    id: row.id,
    vendor: row.vendor,
    configName: row.configName,
    baseUrl: row.baseUrl,
    accountRef: row.accountRef,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Trims the free-text fields and checks the base URL against the vendor and egress policy. */
function normalize(vendor: Vendor, body: repo.ConnectionFields, egress: EgressPolicy) {
  const base = checkBaseUrl(vendor, body.baseUrl, egress);
  if (!base.ok) {
    throw AppError.invalid([{ field: "baseUrl", message: base.reason }], "base_url_not_allowed");
  }
  return {
    configName: body.configName.trim(),
    baseUrl: base.url,
    accountRef: body.accountRef.trim(),
  };
}

function conflict(configName: string): AppError {
  return new AppError(
    "config_name_taken",
    `An aggregator connection named "${configName}" already exists.`,
  );
}

export async function createConnection(
  deps: ConnectionDeps,
  caller: Caller,
  body: Schemas["CreateAggregatorConnectionRequest"],
): Promise<Descriptor> {
  const { tenantId } = caller;
  const fields = normalize(body.vendor, body, deps.egress);
  const id = crypto.randomUUID();
  const sealed = await sealCredential(
    deps.keyRing,
    { tenantId, connectionId: id, vendor: body.vendor },
    { clientId: body.clientId, secret: body.secret },
  );
  const audit = newAudit(deps, caller, {
    action: "connection.created",
    target: { type: "connection", id },
    connectionId: id,
    vendor: body.vendor,
    details: { vendor: body.vendor, configName: fields.configName },
  });
  let created: repo.ConnectionRow;
  try {
    const row = { id, vendor: body.vendor, ...fields };
    created = await deps.sql.begin(async (tx) => {
      const inserted = await repo.insertConnection(tx, tenantId, row, sealed);
      await writeAudit(tx, deps, audit);
      return inserted;
    });
  } catch (err) {
    if (err instanceof repo.ConfigNameTaken) throw conflict(fields.configName);
    throw err;
  }
  deps.outbox?.written();
  return toDescriptor(created);
}

export async function listConnections(
  deps: ConnectionDeps,
  tenantId: string,
  query: { limit: number; cursor?: string },
) {
  const after = afterCursor(query.cursor);
  const rows = await repo.listConnections(deps.sql, tenantId, query.limit, after);
  return toPage(rows, query.limit, toDescriptor);
}

export async function getConnection(
  deps: ConnectionDeps,
  tenantId: string,
  id: string,
): Promise<Descriptor> {
  return toDescriptor(await requireConnection(deps.sql, tenantId, { id }));
}

export async function updateConnection(
  deps: ConnectionDeps,
  caller: Caller,
  id: string,
  body: Schemas["UpdateAggregatorConnectionRequest"],
): Promise<Descriptor> {
  const { tenantId } = caller;
  const hasId = body.clientId !== undefined;
  if (hasId !== (body.secret !== undefined)) {
    const missing = hasId ? "secret" : "clientId";
    throw AppError.invalid(
      [{ field: missing, message: "clientId and secret rotate together: send both or neither" }],
      "partial_credential",
    );
  }
  const current = await requireConnection(deps.sql, tenantId, { id });
  if (body.vendor !== undefined && body.vendor !== current.vendor) {
    throw AppError.invalid(
      [{ field: "vendor", message: `is immutable; this connection's vendor is ${current.vendor}` }],
      "vendor_mismatch",
    );
  }
  const fields = normalize(current.vendor, body, deps.egress);
  const sealed = hasId
    ? await sealCredential(
      deps.keyRing,
      { tenantId, connectionId: id, vendor: current.vendor },
      { clientId: body.clientId!, secret: body.secret! },
    )
    : undefined;
  let row: repo.ConnectionRow;
  try {
    row = await deps.sql.begin(async (tx) => {
      const updated = await repo.updateConnection(tx, tenantId, id, fields, sealed);
      if (!updated) throw notFound(); // deleted between the read and the write
      const changed = FIELDS.filter((name) => updated.previous[name] !== fields[name]);
      await writeAudit(
        tx,
        deps,
        newAudit(deps, caller, {
          action: "connection.updated",
          target: { type: "connection", id },
          connectionId: id,
          vendor: current.vendor,
          details: { fields: changed, credentialRotated: sealed !== undefined },
        }),
      );
      return updated.row;
    });
  } catch (err) {
    if (err instanceof repo.ConfigNameTaken) throw conflict(fields.configName);
    throw err;
  }
  deps.outbox?.written();
  return toDescriptor(row);
}

/** The fields an update may change, as the audit trail names them. */
const FIELDS = ["configName", "baseUrl", "accountRef"] as const;

/** A W3C trace context header as the spec writes it; anything else is not passed on. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

export async function deleteConnection(
  deps: ConnectionDeps,
  caller: Caller,
  id: string,
  /** The caller's trace, which the delete's events carry on. */
  trace: { traceparent?: string } = {},
): Promise<void> {
  const { tenantId } = caller;
  const traceparent = trace.traceparent && TRACEPARENT.test(trace.traceparent)
    ? trace.traceparent
    : undefined;
  // Its unfinished pulls end with it (a running one stops at its next page), and its
  // transactions are deleted with it, in the feed too.
  if (!repo.isConnectionId(id)) throw notFound();
  const deleted = await deps.sql.begin(async (tx) => {
    await lockConnectionRows(tx, id);
    const vendor = await repo.deleteConnection(tx, tenantId, id);
    if (!vendor) return false;
    const now = new Date();
    const transactionsDeleted = await markConnectionDeleted(tx, id);
    const cancelled = await cancelConnectionPulls(tx, id, now);
    const events = deps.outbox
      ? [
        ...cancelled.map((p) => pullEnded(p, now)),
        connectionDeleted({ tenantId, connectionId: id, vendor }, transactionsDeleted, now),
      ]
      : [];
    const audit = newAudit(deps, caller, {
      action: "connection.deleted",
      target: { type: "connection", id },
      connectionId: id,
      vendor,
      details: { transactionsDeleted },
    });
    await writeAudit(tx, deps, audit, events, traceparent);
    return true;
  });
  if (deleted) deps.outbox?.written();
  if (!deleted) throw notFound();
  // After the delete, never before: a failed delete must leave the connection's tokens working.
  // If this fails instead, the receiver still refuses a deleted connection's tokens.
  await revokeConnectionTokens(deps.kv, tenantId, id);
}
