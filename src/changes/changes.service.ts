// The change feed: a tenant's transaction changes in feed order, each the spec's
// TransactionChange as Postgres writes it (the same items the transactions.changed events carry).
import type { components } from "../../generated/types.ts";
import type { Sql } from "../db/pool.ts";
import * as transactions from "../transactions/transactions.repository.ts";
import { decodeFeedCursor } from "./feed_cursor.ts";

type Schemas = components["schemas"];
export type TransactionChange = Schemas["TransactionChange"];

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
  const items = rows.slice(0, query.limit).map((row) => JSON.parse(row) as TransactionChange);
  return {
    items,
    nextCursor: items.length ? items[items.length - 1].cursor : null,
    limit: query.limit,
    hasMore,
  };
}
