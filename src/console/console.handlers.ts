// The operator console over HTTP: its page, its files, and the development sign-in.
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createDevSession, getConsole, getConsoleAsset } from "../../generated/routes.ts";
import type { AppEnv } from "../http/env.ts";
import { AppError } from "../lib/app_error.ts";
import { fileResponse, pageHeaders, pagePolicy, staticFiles } from "../http/static_files.ts";
import { type DevSignIn, isOwnHost, mintDevSession } from "./console.service.ts";

export interface ConsoleDeps {
  /** Undefined (production, or tokens from a JWKS): no button on the page, and the route is a 404. */
  devSignIn?: DevSignIn;
  /** MATCHER_PUBLIC_URL: its host may offer the development sign-in besides local addresses. */
  publicUrl: string;
  now: () => number;
}

const ASSETS = new URL("./assets/", import.meta.url);
/** A name the page uses for its files: no directory, no dot files. */
const ASSET_NAME = /^[a-z0-9_-]+\.(js|css|svg)$/;

/** Every file of assets/, by name, read once on first use. */
const assets = staticFiles(async () => {
  const files: Record<string, URL> = {};
  for await (const entry of Deno.readDir(ASSETS)) {
    if (entry.isFile && ASSET_NAME.test(entry.name)) {
      files[entry.name] = new URL(entry.name, ASSETS);
    }
  }
  return files;
});
const page = staticFiles(() => ({ "console.html": new URL("./console.html", import.meta.url) }));

/** Where the page says the development sign-in is offered; its script shows the button then. */
const DEV_MARK = "<!-- dev-sign-in -->";
const DEV_META = '<meta name="matcher-dev-sign-in" content="available">';

const POLICY = pagePolicy();

function noSuchRoute(): AppError {
  return new AppError("no_such_route", "No such route.");
}

export function consoleRoutes(app: OpenAPIHono<AppEnv>, deps: ConsoleDeps): void {
  // The Host header as the browser sent it; a request built in-process has only its URL.
  const offered = (c: Context) =>
    deps.devSignIn !== undefined &&
    isOwnHost(c.req.header("Host") ?? new URL(c.req.url).host, deps.publicUrl);

  app.openapi(getConsole, async (c) => {
    const html = new TextDecoder().decode((await page()).get("console.html")!.body);
    const body = html.replace(DEV_MARK, offered(c) ? DEV_META : "");
    return c.html(body, 200, pageHeaders(POLICY));
  });

  app.openapi(getConsoleAsset, async (c) => {
    const file = (await assets()).get(c.req.valid("param").file);
    if (!file) throw noSuchRoute();
    return fileResponse(c, file);
  });

  app.openapi(createDevSession, async (c) => {
    if (!deps.devSignIn || !offered(c)) throw noSuchRoute();
    const session = await mintDevSession(deps.devSignIn, deps.now());
    return c.json(session, 200, { "Cache-Control": "no-store" });
  });
}
