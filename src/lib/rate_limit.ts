// A sliding-window rate limit kept in Deno KV, so every replica sharing the KV shares the count.
import { commitKv } from "../db/kv.ts";

export interface RateLimitOptions {
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
  now?: () => number;
}

export type RateLimitVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Takes one request from the window of `key`; several replicas may race on the same key. */
export type RateLimiter = (key: Deno.KvKey) => Promise<RateLimitVerdict>;

/**
 * The window is the list of the last `limit` request times under one KV key, updated with an
 * atomic check so that concurrent requests never both take the last slot.
 */
export function createRateLimiter(kv: Deno.Kv, options: RateLimitOptions): RateLimiter {
  const now = options.now ?? Date.now;
  return async function takeSlot(key) {
    for (;;) {
      const entry = await kv.get<number[]>(key);
      const at = now();
      const recent = (entry.value ?? []).filter((t) => t > at - options.windowMs);
      if (recent.length >= options.limit) {
        const freeAt = recent[recent.length - options.limit] + options.windowMs;
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((freeAt - at) / 1000)) };
      }
      const result = await commitKv(
        kv.atomic().check(entry).set(key, [...recent, at], { expireIn: options.windowMs }),
      );
      if (result.ok) return { allowed: true };
    }
  };
}
