// The RateLimit-Policy and RateLimit header fields of draft-ietf-httpapi-ratelimit-headers.
import type { Allowance } from "../lib/window_counters.ts";

/**
 * `RateLimit-Policy: "<name>";q=<limit>;w=<window>` and `RateLimit: "<name>";r=<left>;t=<reset>`,
 * both Structured Field lists of one item named after the quota.
 */
export function rateLimitFields(
  name: string,
  allowance: Allowance,
  windowSeconds: number,
): Record<string, string> {
  return {
    "RateLimit-Policy": `"${name}";q=${allowance.limit};w=${windowSeconds}`,
    "RateLimit": `"${name}";r=${allowance.remaining};t=${allowance.resetSeconds}`,
  };
}
