// When a failed pull attempt is tried again: exponential backoff with jitter, never before Retry-After.

/** The first retry waits about this long; each later one twice as long as the one before. */
export const BASE_DELAY_MS = 30_000;
/** No retry waits longer than this, whatever the vendor's Retry-After asks for. */
export const MAX_DELAY_MS = 60 * 60_000;

/**
 * The delay before the attempt after `attempts` failed ones: 30 s, 1, 2, 4, 8, 16, 32 min, then an
 * hour, each drawn from its upper half ("equal jitter"), so that pulls failing together do not
 * retry together yet none retries much sooner than planned; never less than `retryAfterMs`, and
 * never more than MAX_DELAY_MS (a delay past it, or not a number, must not reach a Date).
 */
export function retryDelayMs(
  attempts: number,
  retryAfterMs = 0,
  random: () => number = Math.random,
): number {
  const planned = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempts - 1));
  const jittered = Math.round(planned / 2 + random() * (planned / 2));
  const floor = Number.isNaN(retryAfterMs) ? 0 : retryAfterMs;
  return Math.min(MAX_DELAY_MS, Math.max(jittered, floor));
}
