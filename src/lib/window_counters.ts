// Counts per fixed window (a minute) in Deno KV, added with `sum` and no check, so that every
// replica sharing the KV shares them and no write ever retries; windows past are pruned.
import { commitKv } from "../db/kv.ts";

/** What is left of a quota: the answer of a limiter, and what the RateLimit fields show. */
export interface Allowance {
  allowed: boolean;
  /** The quota a window. */
  limit: number;
  /** What the window has left after this request (0 when refused). */
  remaining: number;
  /** Seconds until the window ends and the quota is whole again (at least 1). */
  resetSeconds: number;
}

export interface WindowCounters {
  readonly windowMs: number;
  /** The window `at` falls in, and the milliseconds left in it. */
  windowAt(at: number): { window: number; endsInMs: number };
  /** The KV key of a count: `[prefix, window, ...key]`. */
  keyOf(window: number, key: Deno.KvKey): Deno.KvKey;
  /** The counts of `keys` in `window` (0 for a key never added to). */
  read(window: number, keys: Deno.KvKey[]): Promise<number[]>;
  /** Adds each count to its key in `window`, unchecked. */
  add(window: number, counts: Array<[Deno.KvKey, number]>): Promise<void>;
  /**
   * Deletes the windows before the one preceding `window`, in the background, at most once per
   * window in this process (a KV `sum` cannot carry an expiry, so nothing else would).
   */
  prune(window: number): void;
  /** Waits for a prune under way (a graceful stop, or the end of a test). */
  settle(): Promise<void>;
}

/** KV's getMany reads at most 10 keys. */
const READ_BATCH = 10;
/** Mutations in one atomic operation, well under KV's limit. */
const WRITE_BATCH = 100;

/** Counters under `[prefix, window, ...key]`, windows of `windowMs` counted from the epoch. */
export function createWindowCounters(
  kv: Deno.Kv,
  options: { prefix: string; windowMs: number },
): WindowCounters {
  const { prefix, windowMs } = options;
  const at = (window: number, key: Deno.KvKey): Deno.KvKey => [prefix, window, ...key];
  let prunedBefore = -Infinity;
  let pruning: Promise<void> | undefined;

  async function deleteBefore(end: number): Promise<void> {
    let op = kv.atomic();
    let count = 0;
    for await (const entry of kv.list({ start: [prefix], end: [prefix, end] })) {
      op.delete(entry.key);
      if (++count % WRITE_BATCH === 0) {
        await commitKv(op);
        op = kv.atomic();
      }
    }
    if (count % WRITE_BATCH !== 0) await commitKv(op);
    prunedBefore = end;
  }

  return {
    windowMs,
    keyOf: at,
    windowAt(time) {
      const window = Math.floor(time / windowMs);
      return { window, endsInMs: (window + 1) * windowMs - time };
    },
    async read(window, keys) {
      const counts: number[] = [];
      for (let i = 0; i < keys.length; i += READ_BATCH) {
        const batch = keys.slice(i, i + READ_BATCH).map((key) => at(window, key));
        for (const entry of await kv.getMany<Deno.KvU64[]>(batch)) {
          counts.push(entry.value === null ? 0 : Number(entry.value.value));
        }
      }
      return counts;
    },
    async add(window, counts) {
      for (let i = 0; i < counts.length; i += WRITE_BATCH) {
        const op = kv.atomic();
        for (const [key, n] of counts.slice(i, i + WRITE_BATCH)) op.sum(at(window, key), BigInt(n));
        await commitKv(op);
      }
    },
    prune(window) {
      if (pruning || window - 1 <= prunedBefore) return;
      // A failed prune is tried again in the next window; the counts it left are harmless.
      pruning = deleteBefore(window - 1).catch(() => {}).finally(() => pruning = undefined);
    },
    async settle() {
      await pruning;
    },
  };
}
