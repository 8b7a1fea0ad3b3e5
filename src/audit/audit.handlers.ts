// The audit trail's operation of openapi.yaml (the listing), wired to the service.
import type { OpenAPIHono } from "@hono/zod-openapi";
import * as routes from "../../generated/routes.ts";
import type { Sql } from "../db/pool.ts";
import type { AppEnv } from "../http/env.ts";
import * as service from "./audit.service.ts";

export function auditRoutes(app: OpenAPIHono<AppEnv>, deps: { sql: Sql }): void {
  app.openapi(routes.listAuditEvents, async (c) => {
    const page = await service.listAuditEvents(deps, c.get("tenantId"), c.req.valid("query"));
    return c.json(page, 200);
  });
}
