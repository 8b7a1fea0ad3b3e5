// The pull operations of openapi.yaml, wired to the service.
import type { OpenAPIHono } from "@hono/zod-openapi";
import * as routes from "../../generated/routes.ts";
import { callerOf } from "../http/caller.ts";
import type { AppEnv } from "../http/env.ts";
import * as service from "./pulls.service.ts";

export function pullRoutes(app: OpenAPIHono<AppEnv>, deps: service.PullServiceDeps): void {
  app.openapi(routes.requestPull, async (c) => {
    const pull = await service.requestPull(deps, callerOf(c), c.req.valid("param").id);
    return c.json(pull, 202);
  });

  app.openapi(routes.listPulls, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await service.listPulls(deps, c.get("tenantId"), id, c.req.valid("query")), 200);
  });

  app.openapi(routes.retryPull, async (c) => {
    const pull = await service.retryPull(deps, callerOf(c), c.req.valid("param").pullId);
    return c.json(pull, 202);
  });

  app.openapi(routes.getPull, async (c) => {
    return c.json(await service.getPull(deps, c.get("tenantId"), c.req.valid("param").pullId), 200);
  });
}
