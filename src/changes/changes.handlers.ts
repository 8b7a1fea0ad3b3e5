// GET /v1/discovery/transactions/changes: the tenant's change feed.
import type { OpenAPIHono } from "@hono/zod-openapi";
import * as routes from "../../generated/routes.ts";
import type { Sql } from "../db/pool.ts";
import type { AppEnv } from "../http/env.ts";
import { listChanges } from "./changes.service.ts";

export function changeRoutes(app: OpenAPIHono<AppEnv>, deps: { sql: Sql }): void {
  app.openapi(routes.listTransactionChanges, async (c) => {
    const page = await listChanges(deps, c.get("tenantId"), c.req.valid("query"));
    return c.json(page, 200);
  });
}
