// GET /v1/discovery/aggregator-connections/{id}/transactions: a connection's stored transactions.
import type { OpenAPIHono } from "@hono/zod-openapi";
import * as routes from "../../generated/routes.ts";
import type { Sql } from "../db/pool.ts";
import type { AppEnv } from "../http/env.ts";
import { listTransactions } from "./transactions.service.ts";

export function transactionRoutes(app: OpenAPIHono<AppEnv>, deps: { sql: Sql }): void {
  app.openapi(routes.listTransactions, async (c) => {
    const { id } = c.req.valid("param");
    const page = await listTransactions(deps, c.get("tenantId"), id, c.req.valid("query"));
    return c.json(page, 200);
  });
}
