// Which per-tenant quota each operation counts against: the one table of route classes, read by
// src/app.ts when it registers the limiter on the operations openapi.yaml secures.

/** Operations that share one quota a minute per tenant. */
export type RouteClass = "reads" | "writes" | "liveTests" | "pulls";

/** Each class's name in the RateLimit header fields and in messages. */
export const POLICY_NAMES: Readonly<Record<RouteClass, string>> = {
  reads: "reads",
  writes: "writes",
  liveTests: "live-tests",
  pulls: "pulls",
};

/**
 * The operations outside their method's class: those that spend the tenant's vendor quota (a
 * live test calls the vendor at once; a pull walks the vendor's pages). Every other GET is a
 * read and every other operation a write.
 */
const BY_OPERATION: Readonly<Record<string, RouteClass>> = {
  testAggregatorConnection: "liveTests",
  requestPull: "pulls",
  retryPull: "pulls",
};

export function routeClass(operation: { operationId: string; method: string }): RouteClass {
  return BY_OPERATION[operation.operationId] ??
    (operation.method.toLowerCase() === "get" ? "reads" : "writes");
}
