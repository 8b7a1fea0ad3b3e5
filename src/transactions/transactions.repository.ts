// Storage of normalized transactions: page upserts inside a pull's transaction, deletions, lists.
import type postgres from "postgres";
import type { components } from "../../generated/types.ts";
import type { Sql } from "../db/pool.ts";
import { storableJsonText } from "../db/storable_json.ts";
import type { Position } from "../lib/position.ts";
import type { VendorTransaction } from "../vendors/aggregator.ts";
import type { Vendor } from "../vendors/vendors.ts";

type Transaction = components["schemas"]["Transaction"];

/**
 * A stored transaction: the spec's Transaction (its `amount` the exact decimal text NUMERIC gives
 * back) with its times as Dates, and when it was stored, for keyset positions.
 */
export type TransactionRow = Omit<Transaction, "vendorCreatedAt" | "updatedAt"> & {
  vendorCreatedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
};

type Owner = { tenantId: string; connectionId: string; vendor: Vendor };

/**
 * Inserts the page's transactions, or overwrites the stored ones the vendor changed (and shows
 * again any it had deleted), in one statement. Answers how many rows were inserted or changed:
 * an unchanged transaction fetched again is not written at all.
 */
export async function upsertTransactions(
  tx: postgres.TransactionSql,
  owner: Owner,
  transactions: VendorTransaction[],
): Promise<number> {
  if (!transactions.length) return 0;
  // One row per vendor id: a page listing an id twice would make the upsert touch a row twice.
  const byId = new Map(transactions.map((t) => [t.id, t]));
  // In id order: a pull stores several accounts' pages at once, and should a vendor list one id
  // under two accounts, two pages that lock their rows in one order wait rather than deadlock.
  const ids = [...byId.keys()].sort();
  const rows = ids.map((id) => byId.get(id)!).map((t) => ({
    external_id: t.id,
    account_id: t.accountId,
    amount: t.amount,
    currency: t.currency,
    direction: t.direction,
    status: t.status,
    booking_date: t.date,
    description: t.description,
    vendor_created_at: t.createdAt,
    raw: t.raw,
  }));
  const result = await tx`
    insert into transactions as t (tenant_id, connection_id, vendor, external_id, account_id,
      amount, currency, direction, status, booking_date, description, vendor_created_at, raw)
    select ${owner.tenantId}, ${owner.connectionId}, ${owner.vendor}, r.external_id, r.account_id,
      r.amount, r.currency, r.direction, r.status, r.booking_date, r.description,
      r.vendor_created_at, r.raw
    from jsonb_to_recordset(${storableJsonText(rows)}::text::jsonb) as r(
      external_id text, account_id text, amount numeric, currency text, direction text,
      status text, booking_date date, description text, vendor_created_at timestamptz, raw jsonb)
    on conflict (connection_id, vendor, external_id) do update set
      account_id = excluded.account_id, amount = excluded.amount, currency = excluded.currency,
      direction = excluded.direction, status = excluded.status,
      booking_date = excluded.booking_date, description = excluded.description,
      vendor_created_at = excluded.vendor_created_at, raw = excluded.raw, deleted_at = null,
      updated_at = date_trunc('milliseconds', clock_timestamp())
    where t.deleted_at is not null
      or (t.account_id, t.amount, t.currency, t.direction, t.status, t.booking_date,
          t.description, t.vendor_created_at, t.raw)
      is distinct from
         (excluded.account_id, excluded.amount, excluded.currency, excluded.direction,
          excluded.status, excluded.booking_date, excluded.description,
          excluded.vendor_created_at, excluded.raw)`;
  return result.count;
}

/** Hides the connection's transactions the vendor deleted; answers how many were hidden. */
export async function markDeleted(
  tx: postgres.TransactionSql,
  owner: Owner,
  externalIds: string[],
): Promise<number> {
  if (!externalIds.length) return 0;
  const result = await tx`
    update transactions set deleted_at = clock_timestamp(),
      updated_at = date_trunc('milliseconds', clock_timestamp())
    where connection_id = ${owner.connectionId} and vendor = ${owner.vendor}
      and external_id = any(${externalIds}) and deleted_at is null`;
  return result.count;
}

/** Moves an account's watermark forward (never back) to `createdUpTo`. */
export async function advanceWatermark(
  tx: postgres.TransactionSql,
  connectionId: string,
  accountId: string,
  createdUpTo: string,
): Promise<void> {
  await tx`
    insert into account_watermarks (connection_id, account_id, created_up_to)
    values (${connectionId}, ${accountId}, ${createdUpTo})
    on conflict (connection_id, account_id) do update
      set created_up_to = greatest(account_watermarks.created_up_to, excluded.created_up_to)`;
}

/** The account's watermark, or undefined before its first complete pull. */
export async function findWatermark(
  sql: Sql,
  connectionId: string,
  accountId: string,
): Promise<Date | undefined> {
  const [r] = await sql`
    select created_up_to from account_watermarks
    where connection_id = ${connectionId} and account_id = ${accountId}`;
  return r?.created_up_to;
}

/** Live transactions of a connection, most recently stored first, `limit + 1` rows. */
export async function listTransactions(
  sql: Sql,
  tenantId: string,
  connectionId: string,
  query: { limit: number; after?: Position; accountId?: string },
): Promise<TransactionRow[]> {
  const rows = await sql`
    select id, connection_id, vendor, external_id, account_id, amount::text as amount, currency,
      direction, status, to_char(booking_date, 'YYYY-MM-DD') as date, description,
      vendor_created_at, created_at, updated_at
    from transactions
    where tenant_id = ${tenantId} and connection_id = ${connectionId} and deleted_at is null
      ${query.accountId !== undefined ? sql`and account_id = ${query.accountId}` : sql``}
      ${
    query.after ? sql`and (created_at, id) < (${query.after.createdAt}, ${query.after.id})` : sql``
  }
    order by created_at desc, id desc
    limit ${query.limit + 1}`;
  return rows.map((r) => ({
    id: r.id,
    connectionId: r.connection_id,
    vendor: r.vendor,
    externalId: r.external_id,
    accountId: r.account_id,
    amount: r.amount,
    currency: r.currency,
    direction: r.direction,
    status: r.status,
    date: r.date,
    description: r.description,
    vendorCreatedAt: r.vendor_created_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));
}
