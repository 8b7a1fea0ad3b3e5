// Storage of normalized transactions: page upserts inside a pull's transaction, deletions, lists.
import type postgres from "postgres";
import type { components } from "../../generated/types.ts";
import type { Db, Sql } from "../db/pool.ts";
import { arrayElementSlices } from "../db/json_slices.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { mayBeUnstorable, storableJsonText, storableText } from "../db/storable_json.ts";
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

const encoder = new TextEncoder();

/** What a change of a row sets besides its values: its feed position, drawn in this transaction. */
const CHANGED = "change_xid = pg_current_xact_id(), change_seq = nextval('transaction_change_seq')";

/**
 * The class of the advisory locks a page store holds on its connection, shared with the
 * connection's other page stores; a connection delete takes the lock alone (`lockConnectionRows`),
 * so that the rows a page store inserts are either committed before the delete marks the
 * connection's rows deleted, or rolled back when the store then finds its connection gone. (A row
 * being inserted holds no lock that the delete would wait for.) Webhook batches take it shared
 * too (`record_webhooks`, migration 0006, which names the same number).
 */
const CONNECTION_ROWS_LOCK = 1_405_014;

/**
 * Pages of at least this many rows first try a plain insert, as if every row were new: an upsert
 * probes the unique index for every row before inserting it (a tenth of Postgres' time on a page
 * of new rows), a plain insert only where it inserts. Smaller pages, as a webhook's pulls bring,
 * would save less than the savepoint's round trip costs.
 */
export const FRESH_PAGE_ROWS = 100;

/**
 * Inserts the page's transactions, or overwrites the stored ones the vendor changed (and shows
 * again any it had deleted), in one statement, each written row taking a new feed position.
 * Answers how many rows it inserted or changed: an unchanged transaction fetched again is not
 * written at all. With the page's `body`, Postgres cuts each raw object out of it as the vendor
 * sent it (the bytes of element `rawAt` of its `results`, found by json_slices.ts), and JavaScript
 * sends only the columns; a body Postgres cannot store as it is (see storable_json.ts) is not
 * used. The raw object is `json` text, compared as values only when its text differs. Rows are
 * inserted only while their connection's row exists (migration 0011 says why this replaces a
 * foreign key). A page of FRESH_PAGE_ROWS or more is first inserted as new, in a savepoint; only
 * when one of its rows is already stored does it go through the upsert.
 */
export async function upsertTransactions(
  tx: postgres.TransactionSql,
  owner: Owner,
  transactions: VendorTransaction[],
  options: { body?: string } = {},
): Promise<{ count: number }> {
  if (!transactions.length) return { count: 0 };
  const page = pageColumns(transactions, options.body);
  if (page.columns.externalId.length >= FRESH_PAGE_ROWS) {
    // A row already stored fails the insert: its savepoint is rolled back, and the upsert follows.
    try {
      return await tx.savepoint((sp) => storePage(sp, owner, page, { upsert: false }));
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }
  return await storePage(tx, owner, page, { upsert: true });
}

/** A page as the statement takes it: one array per column, in vendor id order. */
interface PageColumns {
  /** The page's text when the raw objects are cut out of it, else null. */
  body: string | null;
  columns: {
    externalId: string[];
    accountId: string[];
    amount: string[];
    currency: (string | null)[];
    direction: string[];
    status: string[];
    bookingDate: string[];
    description: (string | null)[];
    vendorCreatedAt: (string | null)[];
    /** The raw object's JSON text, when it is not cut out of the body. */
    raw: (string | null)[];
    rawStart: (number | null)[];
    rawLength: (number | null)[];
  };
}

/**
 * The page's columns. A JSON array per column costs Postgres less than one JSON array of row
 * objects, each of which it reads into a hash table to find the fields. Text a vendor's JSON may
 * carry that Postgres refuses (a NUL, a lone surrogate) is made storable, as `storableJsonText`
 * does for a raw object.
 */
function pageColumns(transactions: VendorTransaction[], given: string | undefined): PageColumns {
  const body = given !== undefined && !mayBeUnstorable(given) ? given : null;
  const slices = body === null ? null : arrayElementSlices(encoder.encode(body), "results");
  const fromBody = slices !== null &&
    transactions.every((t) => t.rawAt !== undefined && t.rawAt < slices.length);
  // One row per vendor id: a page listing an id twice would make the upsert touch a row twice.
  const byId = new Map(transactions.map((t) => [t.id, t]));
  // In id order: a pull stores several accounts' pages at once, and should a vendor list one id
  // under two accounts, two pages that lock their rows in one order wait rather than deadlock.
  const ids = [...byId.keys()].sort();
  const c: PageColumns["columns"] = {
    externalId: [],
    accountId: [],
    amount: [],
    currency: [],
    direction: [],
    status: [],
    bookingDate: [],
    description: [],
    vendorCreatedAt: [],
    raw: [],
    rawStart: [],
    rawLength: [],
  };
  for (const id of ids) {
    const t = byId.get(id)!;
    c.externalId.push(storableText(t.id));
    c.accountId.push(storableText(t.accountId));
    c.amount.push(t.amount);
    c.currency.push(t.currency === null ? null : storableText(t.currency));
    c.direction.push(t.direction);
    c.status.push(t.status);
    c.bookingDate.push(t.date);
    c.description.push(t.description === null ? null : storableText(t.description));
    c.vendorCreatedAt.push(t.createdAt);
    const slice = fromBody ? slices[t.rawAt!] : null;
    c.raw.push(slice ? null : storableJsonText(t.raw));
    c.rawStart.push(slice ? slice[0] : null);
    c.rawLength.push(slice ? slice[1] - slice[0] : null);
  }
  return { body: fromBody ? body : null, columns: c };
}

/** Writes the page: as new rows only (a stored one fails the statement), or as the upsert. */
async function storePage(
  tx: postgres.TransactionSql,
  owner: Owner,
  page: PageColumns,
  how: { upsert: boolean },
): Promise<{ count: number }> {
  const c = page.columns;
  // Each column a JSON array of its values, read by the statement's ROWS FROM side by side.
  const col = (values: unknown[]) =>
    tx`json_array_elements_text(${JSON.stringify(values)}::text::json)`;
  const result = await tx`
    with connection_lock as (${sharedConnectionLock(tx, owner.connectionId)}),
    page as materialized (select convert_to(${page.body}::text, 'UTF8') as bytes)
    insert into transactions as t (tenant_id, connection_id, vendor, external_id, account_id,
      amount, currency, direction, status, booking_date, description, vendor_created_at, raw)
    select ${owner.tenantId}, ${owner.connectionId}, ${owner.vendor}, r.external_id, r.account_id,
      r.amount::numeric, r.currency, r.direction, r.status, r.booking_date::date, r.description,
      r.vendor_created_at::timestamptz,
      coalesce(r.raw::json, convert_from(
        substr(page.bytes, r.raw_start::int + 1, r.raw_length::int), 'UTF8')::json)
    from connection_lock, page, connections c,
      rows from (${col(c.externalId)}, ${col(c.accountId)}, ${col(c.amount)}, ${col(c.currency)},
        ${col(c.direction)}, ${col(c.status)}, ${col(c.bookingDate)}, ${col(c.description)},
        ${col(c.vendorCreatedAt)}, ${col(c.raw)}, ${col(c.rawStart)}, ${col(c.rawLength)})
      as r(external_id, account_id, amount, currency, direction, status, booking_date,
        description, vendor_created_at, raw, raw_start, raw_length)
    where c.id = ${owner.connectionId}
    order by r.external_id
    ${how.upsert ? tx.unsafe(ON_CONFLICT) : tx``}`;
  return { count: result.count };
}

/** The upsert's clause: a stored row is written again only when the vendor changed it. */
const ON_CONFLICT = `
    on conflict (connection_id, vendor, external_id) do update set
      account_id = excluded.account_id, amount = excluded.amount, currency = excluded.currency,
      direction = excluded.direction, status = excluded.status,
      booking_date = excluded.booking_date, description = excluded.description,
      vendor_created_at = excluded.vendor_created_at, raw = excluded.raw, deleted_at = null,
      updated_at = date_trunc('milliseconds', clock_timestamp()), ${CHANGED}
    where t.deleted_at is not null
      or (t.account_id, t.amount, t.currency, t.direction, t.status, t.booking_date,
          t.description, t.vendor_created_at)
      is distinct from
         (excluded.account_id, excluded.amount, excluded.currency, excluded.direction,
          excluded.status, excluded.booking_date, excluded.description,
          excluded.vendor_created_at)
      or (t.raw::text <> excluded.raw::text and t.raw::jsonb <> excluded.raw::jsonb)`;

/**
 * The page stores' shared hold on CONNECTION_ROWS_LOCK, as a query to put in a statement's `with`
 * so that it is taken before the statement locks any row of the connection: a store that locked a
 * row first and then waited for the lock behind a connection delete would deadlock with it.
 */
function sharedConnectionLock(tx: postgres.TransactionSql, connectionId: string) {
  return tx`select pg_advisory_xact_lock_shared(
    ${CONNECTION_ROWS_LOCK}, hashtext(${connectionId}::uuid::text))`;
}

/**
 * Hides the connection's transactions the vendor deleted, each taking a new feed position; answers
 * how many. Under the page stores' connection lock, as an upsert is.
 */
export async function markDeleted(
  tx: postgres.TransactionSql,
  owner: Owner,
  externalIds: string[],
): Promise<{ count: number }> {
  if (!externalIds.length) return { count: 0 };
  const result = await tx`
    with connection_lock as materialized (${sharedConnectionLock(tx, owner.connectionId)})
    update transactions as t set deleted_at = clock_timestamp(),
      updated_at = date_trunc('milliseconds', clock_timestamp()), ${tx.unsafe(CHANGED)}
    from connection_lock
    where connection_id = ${owner.connectionId} and vendor = ${owner.vendor}
      and external_id = any(${externalIds}) and deleted_at is null`;
  return { count: result.count };
}

/**
 * Inside a connection delete, first: waits for the connection's page stores in flight and keeps
 * new ones out until the delete commits (see CONNECTION_ROWS_LOCK).
 */
export async function lockConnectionRows(tx: Db, connectionId: string): Promise<void> {
  await tx`
    select pg_advisory_xact_lock(${CONNECTION_ROWS_LOCK}, hashtext(${connectionId}::uuid::text))`;
}

/** Marks every live transaction of a deleted connection deleted; answers how many. */
export async function markConnectionDeleted(tx: Db, connectionId: string): Promise<number> {
  const result = await tx`
    update transactions set deleted_at = clock_timestamp(),
      updated_at = date_trunc('milliseconds', clock_timestamp()), ${tx.unsafe(CHANGED)}
    where connection_id = ${connectionId} and deleted_at is null`;
  return result.count;
}

/**
 * The tenant's changes after `after` in feed order, `limit + 1` of them, of one connection when
 * given, each the JSON text of a TransactionChange (the SQL function `transaction_change`, which
 * also writes the events' changes). Only rows whose writer ended before the oldest transaction
 * still in flight are shown: every transaction below that horizon has committed or aborted, and
 * every one in flight (or yet to begin) writes at or above it, so a reader's cursor never passes
 * a position that a later commit could still fill. The horizon is read from the query's own
 * snapshot.
 */
export async function listChanges(
  sql: Sql,
  tenantId: string,
  query: { limit: number; after?: { xid: string; seq: string }; connectionId?: string },
): Promise<string[]> {
  const rows = await sql`
    select transaction_change(t) as item
    from transactions t
    where t.tenant_id = ${tenantId}
      ${query.connectionId !== undefined ? sql`and t.connection_id = ${query.connectionId}` : sql``}
      ${
    query.after
      ? sql`and (t.change_xid, t.change_seq) > (${query.after.xid}::xid8, ${query.after.seq}::bigint)`
      : sql``
  }
      and t.change_xid < pg_snapshot_xmin(pg_current_snapshot())
    order by t.change_xid, t.change_seq
    limit ${query.limit + 1}`;
  return rows.map((r) => r.item);
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
  return rows.map(toRow);
}

/** A row as postgres.js returns it, in the shape the rest of the service uses. */
function toRow(r: Record<string, unknown>): TransactionRow {
  return {
    id: r.id as string,
    connectionId: r.connection_id as string,
    vendor: r.vendor as Vendor,
    externalId: r.external_id as string,
    accountId: r.account_id as string,
    amount: r.amount as string,
    currency: r.currency as string | null,
    direction: r.direction as TransactionRow["direction"],
    status: r.status as TransactionRow["status"],
    date: r.date as string,
    description: r.description as string | null,
    vendorCreatedAt: r.vendor_created_at as Date | null,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
  };
}
