// Unauthenticated operational routes: liveness, readiness, the spec and its interactive docs.
import type { OpenAPIHono } from "@hono/zod-openapi";
import spec from "../../generated/openapi.json" with { type: "json" };
import * as routes from "../../generated/routes.ts";
import { pingDatabase, type Sql } from "../db/pool.ts";
import { AppError, ErrorCode } from "../http/errors.ts";
import type { AppEnv } from "../http/env.ts";
import { apiDocsRoutes } from "./docs.handlers.ts";

export interface OpsDeps {
  sql: Sql;
  kv: Deno.Kv;
}

async function pingKv(kv: Deno.Kv): Promise<boolean> {
  try {
    await kv.get(["ready"]);
    return true;
  } catch {
    return false;
  }
}

export function opsRoutes(app: OpenAPIHono<AppEnv>, deps: OpsDeps): void {
  app.openapi(routes.getHealth, (c) => c.json({ status: "ok" as const }, 200));

  app.openapi(routes.getReadiness, async (c) => {
    const [database, kv] = await Promise.all([pingDatabase(deps.sql), pingKv(deps.kv)]);
    if (!database || !kv) {
      const down = [database ? [] : ["database"], kv ? [] : ["kv"]].flat().join(" and ");
      throw new AppError(503, ErrorCode.unavailable, `Not ready: ${down} unavailable.`, {
        headers: { "Retry-After": "5" },
      });
    }
    return c.json({
      status: "ready" as const,
      checks: { database: "ok" as const, kv: "ok" as const },
    }, 200);
  });

  app.openapi(routes.getOpenApiDocument, (c) => c.json(spec as Record<string, unknown>, 200));

  apiDocsRoutes(app);
}
