// The aggregator-connections operations of openapi.yaml, wired to their services.
import type { OpenAPIHono } from "@hono/zod-openapi";
import * as routes from "../../generated/routes.ts";
import { callerOf } from "../http/caller.ts";
import type { AppEnv } from "../http/env.ts";
import * as service from "./connections.service.ts";
import { type LiveCheckDeps, testConnection } from "./live_checks.service.ts";

export function connectionRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: service.ConnectionDeps & LiveCheckDeps,
): void {
  app.openapi(routes.createAggregatorConnection, async (c) => {
    const created = await service.createConnection(deps, callerOf(c), c.req.valid("json"));
    return c.json(created, 201);
  });

  app.openapi(routes.listAggregatorConnections, async (c) => {
    const page = await service.listConnections(deps, c.get("tenantId"), c.req.valid("query"));
    return c.json(page, 200);
  });

  app.openapi(routes.testAggregatorConnection, async (c) => {
    return c.json(await testConnection(deps, callerOf(c), c.req.valid("json")), 200);
  });

  app.openapi(routes.getAggregatorConnection, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await service.getConnection(deps, c.get("tenantId"), id), 200);
  });

  app.openapi(routes.updateAggregatorConnection, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    return c.json(await service.updateConnection(deps, callerOf(c), id, body), 200);
  });

  app.openapi(routes.deleteAggregatorConnection, async (c) => {
    await service.deleteConnection(deps, callerOf(c), c.req.valid("param").id, {
      traceparent: c.req.header("traceparent"),
    });
    return c.body(null, 204);
  });
}
