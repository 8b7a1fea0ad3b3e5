// Listing a connection's stored transactions: the connection must be the tenant's; rows leave as
// the spec's Transaction.
import type { components } from "../../generated/types.ts";
import { requireConnection } from "../connections/connections.service.ts";
import type { Sql } from "../db/pool.ts";
import { afterCursor, toPage } from "../http/pagination.ts";
import * as repo from "./transactions.repository.ts";

type Transaction = components["schemas"]["Transaction"];

/** The spec's Transaction, field by field: nothing else a row holds ever leaves. */
export function toTransaction(row: repo.TransactionRow): Transaction {
  return {
    id: row.id,
    connectionId: row.connectionId,
    vendor: row.vendor,
    externalId: row.externalId,
    accountId: row.accountId,
    amount: row.amount,
    currency: row.currency,
    direction: row.direction,
    status: row.status,
    date: row.date,
    description: row.description,
    vendorCreatedAt: row.vendorCreatedAt ? row.vendorCreatedAt.toISOString() : null,
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** One page of the connection's live transactions, most recently stored first. */
export async function listTransactions(
  deps: { sql: Sql },
  tenantId: string,
  connectionId: string,
  query: { limit: number; cursor?: string; accountId?: string },
): Promise<components["schemas"]["TransactionPage"]> {
  const after = afterCursor(query.cursor);
  await requireConnection(deps.sql, tenantId, { id: connectionId });
  const rows = await repo.listTransactions(deps.sql, tenantId, connectionId, {
    limit: query.limit,
    after,
    accountId: query.accountId,
  });
  return toPage(rows, query.limit, toTransaction);
}
