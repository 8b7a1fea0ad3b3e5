// Unauthenticated operational routes: liveness, readiness, the spec and its interactive docs.
import type { OpenAPIHono } from "@hono/zod-openapi";
import spec from "../../generated/openapi.json" with { type: "json" };
import * as routes from "../../generated/routes.ts";
import type { AppEnv } from "../http/env.ts";
import { apiDocsRoutes } from "./docs.handlers.ts";
import { checkReadiness, type OpsDeps } from "./ops.service.ts";

export function opsRoutes(app: OpenAPIHono<AppEnv>, deps: OpsDeps): void {
  app.openapi(routes.getHealth, (c) => c.json({ status: "ok" as const }, 200));

  app.openapi(routes.getReadiness, async (c) => c.json(await checkReadiness(deps), 200));

  app.openapi(routes.getOpenApiDocument, (c) => c.json(spec as Record<string, unknown>, 200));

  apiDocsRoutes(app);
}
