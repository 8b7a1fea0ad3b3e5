// GET /docs and its files: Swagger UI from the installed swagger-ui-dist package, served locally.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { join } from "node:path";
// The package's own way to find its files on disk (in Deno's npm cache). Importing it also puts the
// package in the module graph, so `deno run` and `deno cache` fetch it like any other dependency.
import swaggerUiPath from "swagger-ui-dist/absolute-path.js";
import { getApiDocs, getApiDocsAsset } from "../../generated/routes.ts";
import type { AppEnv } from "../http/env.ts";
import { AppError } from "../lib/app_error.ts";
import { fileResponse, pageHeaders, pagePolicy, staticFiles } from "../http/static_files.ts";

const files = staticFiles(() => {
  const dist: string = swaggerUiPath();
  return {
    "swagger-ui.css": join(dist, "swagger-ui.css"),
    "swagger-ui-bundle.js": join(dist, "swagger-ui-bundle.js"),
    "favicon-32x32.png": join(dist, "favicon-32x32.png"),
    "docs.js": new URL("./docs.js", import.meta.url),
  };
});

/** Swagger UI's style sheet draws its icons from data: URLs; nothing else is added. */
const POLICY = pagePolicy(["img-src 'self' data:"]);

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Matcher discovery API</title>
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="docs" data-spec="/openapi.json"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/docs.js"></script>
</body>
</html>
`;

export function apiDocsRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(getApiDocs, (c) => c.html(PAGE, 200, pageHeaders(POLICY)));

  app.openapi(getApiDocsAsset, async (c) => {
    const file = (await files()).get(c.req.valid("param").file);
    if (!file) throw new AppError("no_such_route", "No such route.");
    return fileResponse(c, file);
  });
}
