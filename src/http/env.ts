// The Hono environment shared by the app, its middleware and its handlers.

export type AppEnv = {
  Variables: {
    /** Set by the request log middleware on every request. */
    requestId: string;
    /** Set by the auth middleware on every /v1 request: the verified JWT's tenant. */
    tenantId: string;
  };
};
