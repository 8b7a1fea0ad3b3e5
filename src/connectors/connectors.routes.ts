// GET /v1/discovery/connector-types: the registry's non-aggregator connector types.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { listConnectorTypes } from "../../generated/routes.ts";
import type { AppEnv } from "../http/env.ts";
import type { ConnectorRegistry } from "./registry.ts";

export function connectorRoutes(app: OpenAPIHono<AppEnv>, registry: ConnectorRegistry): void {
  app.openapi(listConnectorTypes, (c) => {
    const types = registry.list().flatMap(({ type, category }) =>
      category === "aggregator" ? [] : [{ type, category }]
    );
    return c.json({ types }, 200);
  });
}
