// Each tenant's requests a minute per class of operation, counted in Deno KV so that every replica
// shares them: an admitted request costs one read and one unchecked sum, never a retry loop.
import { errorSummary } from "./error_summary.ts";
import type { Logger } from "./logger.ts";
import { type Allowance, createWindowCounters } from "./window_counters.ts";

/** Quotas by class of operation (the route classes of src/http/route_classes.ts). */
export interface TenantQuota<Class extends string = string> {
  /** The class's requests a minute; 0 when the operator turned its limit off. */
  limit(routeClass: Class): number;
  /** Counts one request of the tenant against the class's quota, unless the quota is used up. */
  take(tenantId: string, routeClass: Class): Promise<Allowance>;
  /** Waits for background KV work (pruning past windows). */
  close(): Promise<void>;
}

export const QUOTA_WINDOW_MS = 60_000;

/**
 * Fixed windows of a minute: a tenant may send `limits[class]` requests of a class in each
 * minute, and a burst across a minute's end can reach twice that. Two requests read at once
 * may both take the last slot, so replicas together can exceed the limit by the requests a
 * tenant has in flight at that moment: a check and retry would cost every request a KV round
 * trip more under contention. Refused requests are not counted, so a client that waits out
 * `Retry-After` is served again.
 */
export function createTenantQuota<Class extends string>(
  kv: Deno.Kv,
  options: { limits: Record<Class, number>; now: () => number; logger: Logger },
): TenantQuota<Class> {
  const counters = createWindowCounters(kv, {
    prefix: "tenant_requests",
    windowMs: QUOTA_WINDOW_MS,
  });
  let warnedIn = -1;
  return {
    limit: (routeClass) => options.limits[routeClass],
    async take(tenantId, routeClass) {
      const limit = options.limits[routeClass];
      const { window, endsInMs } = counters.windowAt(options.now());
      const resetSeconds = Math.max(1, Math.ceil(endsInMs / 1000));
      const key = [routeClass, tenantId];
      try {
        counters.prune(window);
        const [used] = await counters.read(window, [key]);
        if (used >= limit) return { allowed: false, limit, remaining: 0, resetSeconds };
        await counters.add(window, [[key, 1]]);
        return { allowed: true, limit, remaining: Math.max(0, limit - used - 1), resetSeconds };
      } catch (err) {
        // KV unreachable: serve rather than refuse (the limit protects, it must not break), and
        // say so once a window.
        if (warnedIn !== window) {
          warnedIn = window;
          options.logger.warn({ msg: "rate limit not counted", error: errorSummary(err) });
        }
        return { allowed: true, limit, remaining: limit, resetSeconds };
      }
    },
    close: () => counters.settle(),
  };
}
