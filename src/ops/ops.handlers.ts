// Unauthenticated operational routes: liveness, readiness, the spec and its interactive docs.
import type { OpenAPIHono } from "@hono/zod-openapi";
import spec from "../../generated/openapi.json" with { type: "json" };
import * as routes from "../../generated/routes.ts";
import type { AppEnv } from "../http/env.ts";
import { checkReadiness, type OpsDeps } from "./ops.service.ts";

/** Swagger UI (from the jsDelivr CDN, pinned) rendering /openapi.json in the browser. */
const SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.29.0";
const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Matcher discovery API</title>
  <link rel="stylesheet" href="${SWAGGER_UI}/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="${SWAGGER_UI}/swagger-ui-bundle.js" crossorigin></script>
  <script>SwaggerUIBundle({ url: "/openapi.json", dom_id: "#docs" });</script>
</body>
</html>
`;

export function opsRoutes(app: OpenAPIHono<AppEnv>, deps: OpsDeps): void {
  app.openapi(routes.getHealth, (c) => c.json({ status: "ok" as const }, 200));

  app.openapi(routes.getReadiness, async (c) => c.json(await checkReadiness(deps), 200));

  app.openapi(routes.getOpenApiDocument, (c) => c.json(spec as Record<string, unknown>, 200));

  app.openapi(routes.getApiDocs, (c) => c.html(DOCS_PAGE, 200));
}
