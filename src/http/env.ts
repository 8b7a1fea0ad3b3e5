// The Hono environment shared by the app, its middleware and its handlers.
import type { Actor } from "../lib/caller.ts";
import type { LogRecord } from "../lib/logger.ts";

export type AppEnv = {
  Variables: {
    /** Set by the request log middleware on every request. */
    requestId: string;
    /** Set by the auth middleware on every /v1 request: the verified JWT's tenant. */
    tenantId: string;
    /** Set with `tenantId`: the verified JWT's `sub` and `iss`, the audit trail's actor. */
    actor: Actor;
    /**
     * What a handler adds to the request's one log line (its `msg` included), instead of writing
     * a line of its own: one line per request, whatever it did.
     */
    log?: LogRecord;
  };
};
