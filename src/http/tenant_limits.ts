// The per-tenant rate limit of an operation: counted after authentication (it needs the tenant)
// and before the body is read, answering the RateLimit fields always and 429 past the quota.
import type { MiddlewareHandler } from "hono";
import { AppError } from "../lib/app_error.ts";
import { QUOTA_WINDOW_MS, type TenantQuota } from "../lib/tenant_quota.ts";
import type { AppEnv } from "./env.ts";
import { rateLimitFields } from "./rate_limit_fields.ts";
import { POLICY_NAMES, type RouteClass } from "./route_classes.ts";

/** The limiter of `routeClass`, or none when the operator turned that class's limit off. */
export function tenantLimits(
  quota: TenantQuota<RouteClass>,
  routeClass: RouteClass,
): MiddlewareHandler<AppEnv>[] {
  if (quota.limit(routeClass) === 0) return [];
  const name = POLICY_NAMES[routeClass];
  return [async function limitTenant(c, next) {
    // The count is written in the background; the request does not wait for it.
    const allowance = await quota.take(c.get("tenantId"), routeClass);
    const fields = rateLimitFields(name, allowance, QUOTA_WINDOW_MS / 1000);
    if (!allowance.allowed) {
      throw new AppError(
        "too_many_requests",
        `Too many ${name} requests for this tenant this minute; try again after Retry-After ` +
          "seconds.",
        { retryAfterSeconds: allowance.resetSeconds, headers: fields },
      );
    }
    for (const [field, value] of Object.entries(fields)) c.header(field, value);
    await next();
  }];
}
