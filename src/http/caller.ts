// The caller of an operation, as the auth and request log middleware left it on the context.
import type { Context } from "hono";
import type { Caller } from "../lib/caller.ts";
import type { AppEnv } from "./env.ts";

/** The tenant, actor and request id of a request that passed the auth middleware. */
export function callerOf(c: Context<AppEnv>): Caller {
  return { tenantId: c.get("tenantId"), actor: c.get("actor"), requestId: c.get("requestId") };
}
