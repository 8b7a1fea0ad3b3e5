// GET /v1/discovery/aggregator-connections/{id}/transactions: a connection's stored transactions.
import type { OpenAPIHono } from "@hono/zod-openapi";
import * as routes from "../../generated/routes.ts";
import type { components } from "../../generated/types.ts";
import { notFound } from "../connections/connections.service.ts";
import { findConnection } from "../connections/connections.repository.ts";
import type { Sql } from "../db/pool.ts";
import type { AppEnv } from "../http/env.ts";
import { decodeCursor, toPage } from "../http/pagination.ts";
import { listTransactions, type TransactionRow } from "./transactions.repository.ts";

export function toTransaction(row: TransactionRow): components["schemas"]["Transaction"] {
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

export function transactionRoutes(app: OpenAPIHono<AppEnv>, deps: { sql: Sql }): void {
  app.openapi(routes.listTransactions, async (c) => {
    const tenantId = c.get("tenantId");
    const { id } = c.req.valid("param");
    const { limit, cursor, accountId } = c.req.valid("query");
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    if (!(await findConnection(deps.sql, tenantId, id))) throw notFound();
    const rows = await listTransactions(deps.sql, tenantId, id, { limit, after, accountId });
    return c.json(toPage(rows, limit, toTransaction), 200);
  });
}
