// The change feed: a tenant's transaction changes in feed order, each shaped as the spec's
// TransactionChange (the same items the transactions.changed events carry).
import type { components } from "../../generated/types.ts";
import type { Sql } from "../db/pool.ts";
import { toTransaction } from "../transactions/transactions.service.ts";
import * as transactions from "../transactions/transactions.repository.ts";
import { decodeFeedCursor, encodeFeedCursor } from "./feed_cursor.ts";

type Schemas = components["schemas"];
export type TransactionChange = Schemas["TransactionChange"];

/** A stored row as a feed item: deleted rows carry their ids only. */
export function toChange(row: transactions.ChangeRow): TransactionChange {
  return {
    change: row.deleted ? "deleted" : "upserted",
    cursor: encodeFeedCursor({ xid: row.changeXid, seq: row.changeSeq }),
    id: row.id,
    connectionId: row.connectionId,
    vendor: row.vendor,
    externalId: row.externalId,
    changedAt: row.updatedAt.toISOString(),
    transaction: row.deleted ? null : toTransaction(row),
  };
}

/** One page of the tenant's feed after `after` (from the start without it). */
export async function listChanges(
  deps: { sql: Sql },
  tenantId: string,
  query: { limit: number; after?: string; connectionId?: string },
): Promise<Schemas["TransactionChangePage"]> {
  const after = query.after === undefined ? undefined : decodeFeedCursor(query.after);
  const rows = await transactions.listChanges(deps.sql, tenantId, {
    limit: query.limit,
    after,
    connectionId: query.connectionId,
  });
  const hasMore = rows.length > query.limit;
  const items = rows.slice(0, query.limit).map(toChange);
  return {
    items,
    nextCursor: items.length ? items[items.length - 1].cursor : null,
    limit: query.limit,
    hasMore,
  };
}
