// The webhook token operations of openapi.yaml (mint, list, revoke), wired to the service.
import type { OpenAPIHono } from "@hono/zod-openapi";
import * as routes from "../../generated/routes.ts";
import { callerOf } from "../http/caller.ts";
import type { AppEnv } from "../http/env.ts";
import * as service from "./tokens.service.ts";

/** Registers mintWebhookToken, listWebhookTokens and revokeWebhookToken on `app`. */
export function webhookTokenRoutes(app: OpenAPIHono<AppEnv>, deps: service.TokenDeps): void {
  app.openapi(routes.mintWebhookToken, async (c) => {
    const minted = await service.mintToken(deps, callerOf(c), c.req.valid("json"));
    // The token is shown this once: no cache along the way may keep a copy.
    c.header("Cache-Control", "no-store");
    return c.json(minted, 201);
  });

  app.openapi(routes.listWebhookTokens, async (c) => {
    return c.json(await service.listTokens(deps, c.get("tenantId"), c.req.valid("query")), 200);
  });

  app.openapi(routes.revokeWebhookToken, async (c) => {
    await service.revokeToken(deps, callerOf(c), c.req.valid("param").tokenId);
    return c.body(null, 204);
  });
}
