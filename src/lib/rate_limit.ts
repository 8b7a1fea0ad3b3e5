// Sliding-window rate limits kept in Deno KV, so every replica sharing the KV shares the counts.
import { commitKv } from "../db/kv.ts";

/** One sliding window: at most `limit` requests per `windowMs` under `key`. */
export interface RateWindow {
  key: Deno.KvKey;
  limit: number;
  windowMs: number;
}

export type RateLimitVerdict =
  | { allowed: true }
  /** `window`: the full window that makes the caller wait longest. */
  | { allowed: false; retryAfterSeconds: number; window: RateWindow };

/**
 * Takes one request from every window at once (a connection's and its tenant's, say): from all of
 * them, or from none when any is full, so that a refused request spends nothing. Several replicas
 * may race on the same keys.
 */
export type RateLimiter = (windows: RateWindow[]) => Promise<RateLimitVerdict>;

/**
 * Each window is the list of its last `limit` request times under its KV key; all of them are
 * updated in one atomic commit that checks each, so concurrent requests never both take a last slot.
 */
export function createRateLimiter(kv: Deno.Kv, now: () => number = Date.now): RateLimiter {
  return async function takeSlots(windows) {
    for (;;) {
      const entries = await kv.getMany<number[][]>(windows.map((w) => w.key));
      const at = now();
      const recents = windows.map((w, i) =>
        (entries[i].value ?? []).filter((t) => t > at - w.windowMs)
      );
      let refused: { retryAfterSeconds: number; window: RateWindow } | undefined;
      for (const [i, window] of windows.entries()) {
        const recent = recents[i];
        if (recent.length < window.limit) continue;
        const freeAt = recent[recent.length - window.limit] + window.windowMs;
        const retryAfterSeconds = Math.max(1, Math.ceil((freeAt - at) / 1000));
        if (!refused || retryAfterSeconds > refused.retryAfterSeconds) {
          refused = { retryAfterSeconds, window };
        }
      }
      if (refused) return { allowed: false, ...refused };
      const op = kv.atomic();
      for (const [i, window] of windows.entries()) {
        op.check(entries[i]).set(window.key, [...recents[i], at], { expireIn: window.windowMs });
      }
      const result = await commitKv(op);
      if (result.ok) return { allowed: true };
    }
  };
}
