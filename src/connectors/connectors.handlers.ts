// GET /v1/discovery/connector-types: the registry's non-aggregator connector types.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { listConnectorTypes as route } from "../../generated/routes.ts";
import type { AppEnv } from "../http/env.ts";
import { type ConnectorRegistry, listConnectorTypes } from "./connectors.service.ts";

export function connectorRoutes(app: OpenAPIHono<AppEnv>, registry: ConnectorRegistry): void {
  app.openapi(route, (c) => c.json(listConnectorTypes(registry), 200));
}
