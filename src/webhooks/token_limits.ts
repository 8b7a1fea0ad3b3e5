// Each webhook token's deliveries a minute, counted in memory on the receipt path and shared with
// the other replicas through Deno KV in the background, so that a delivery waits for no KV round
// trip while its token is busy.
import { type Allowance, createWindowCounters } from "../lib/window_counters.ts";

export interface TokenLimitOptions {
  /** Deliveries a token may take a minute, on every replica together. */
  perMinute: number;
  now: () => number;
  /** How often this replica adds its counts to KV and reads the others' back. */
  syncMs?: number;
  /** A view of KV older than this is read again before a delivery is decided. */
  staleMs?: number;
}

export interface TokenLimits {
  /** Counts one delivery to the token, unless its quota for this minute is used up. */
  take(tokenId: string): Promise<Allowance>;
  /** What runs every `syncMs` while deliveries come: send the counts, read the totals back. */
  sync(): Promise<void>;
  /** Adds what is counted to KV and stops the background sync (a graceful stop). */
  close(): Promise<void>;
}

export const TOKEN_WINDOW_MS = 60_000;
/** Where the shared counts live: `[prefix, minute, tokenId]`. */
export const TOKEN_COUNTS_PREFIX = "webhook_deliveries";

/** One token's minute as this replica sees it. */
interface TokenMinute {
  window: number;
  /** The shared count as last read from KV (the largest read: a count only grows). */
  known: number;
  /** Counted here and being added to KV now. */
  sending: number;
  /** Counted here, not yet sent. */
  pending: number;
  readAt: number;
  reading?: Promise<void>;
}

/**
 * A replica decides from the shared count as it was at most `staleMs` ago (it reads it again on
 * the request path when older) plus its own deliveries since, and adds those to KV every
 * `syncMs`, reading the total back. So one replica never takes more than `perMinute`, and R
 * replicas receiving one token at once take at most what each other replica takes within
 * `staleMs + syncMs` more, and never more than R × `perMinute`.
 */
export function createTokenLimits(kv: Deno.Kv, options: TokenLimitOptions): TokenLimits {
  const syncMs = options.syncMs ?? 250;
  const staleMs = options.staleMs ?? 1_000;
  const counters = createWindowCounters(kv, {
    prefix: TOKEN_COUNTS_PREFIX,
    windowMs: TOKEN_WINDOW_MS,
  });
  const minutes = new Map<string, TokenMinute>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let syncing: Promise<void> | undefined;
  let closed = false;
  // Reads and syncs run one at a time, so that no read sees half of a sync: a count this replica
  // sent is then either in `known` or in `sending`, never in both.
  let queue: Promise<unknown> = Promise.resolve();
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = queue.then(work, work);
    queue = run.catch(() => {});
    return run;
  }

  /** Reads the shared count of one token (concurrent deliveries share the read). */
  function refresh(tokenId: string, minute: TokenMinute): Promise<void> {
    minute.reading ??= exclusive(() => counters.read(minute.window, [[tokenId]])).then(
      ([count]) => {
        minute.known = Math.max(minute.known, count);
      },
      () => {}, // KV unreachable: decide from what this replica knows (a limit must not break)
    ).finally(() => {
      minute.readAt = options.now();
      minute.reading = undefined;
    });
    return minute.reading;
  }

  /** Sends the pending counts in one operation, then reads those tokens' totals back. */
  async function sync(): Promise<void> {
    const { window } = counters.windowAt(options.now());
    counters.prune(window);
    // A minute that has ended is read by nobody: its counts are dropped, not sent.
    for (const m of minutes.values()) if (m.window < window) m.pending = 0;
    const batch = [...minutes].filter(([, m]) => m.pending > 0);
    const sent = batch.map(([id, m]) => {
      const n = m.pending;
      m.pending = 0;
      m.sending += n;
      return { id, m, n };
    });
    // Counts of one window per operation: sent together, read back together.
    const byWindow = Map.groupBy(sent, (s) => s.m.window);
    for (const [w, group] of byWindow) {
      try {
        await counters.add(w, group.map((s) => [[s.id], s.n]));
        for (const s of group) s.m.known += s.n;
      } catch {
        for (const s of group) s.m.pending += s.n; // sent again next time
      } finally {
        for (const s of group) s.m.sending -= s.n;
      }
      if (w !== window) continue;
      try {
        const counts = await counters.read(w, group.map((s) => [s.id]));
        group.forEach((s, i) => s.m.known = Math.max(s.m.known, counts[i]));
        for (const s of group) s.m.readAt = options.now();
      } catch { /* read again next time */ }
    }
    for (const [id, m] of minutes) {
      if (m.window < window && m.pending === 0 && m.sending === 0) minutes.delete(id);
    }
  }

  function schedule(): void {
    if (timer !== undefined || closed) return;
    timer = setTimeout(() => {
      syncing = exclusive(sync).finally(() => {
        timer = undefined;
        syncing = undefined;
        if ([...minutes.values()].some((m) => m.pending > 0)) schedule();
      });
    }, syncMs);
    Deno.unrefTimer(timer);
  }

  return {
    async take(tokenId) {
      const at = options.now();
      const { window, endsInMs } = counters.windowAt(at);
      let minute = minutes.get(tokenId);
      if (minute === undefined || minute.window !== window) {
        minute = { window, known: 0, sending: 0, pending: 0, readAt: -Infinity };
        minutes.set(tokenId, minute);
      }
      if (at - minute.readAt > staleMs) await refresh(tokenId, minute);
      const used = minute.known + minute.sending + minute.pending;
      const limit = options.perMinute;
      const resetSeconds = Math.max(1, Math.ceil(endsInMs / 1000));
      if (used >= limit) return { allowed: false, limit, remaining: 0, resetSeconds };
      minute.pending++;
      schedule();
      return { allowed: true, limit, remaining: limit - used - 1, resetSeconds };
    },
    sync: () => exclusive(sync),
    async close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      await syncing;
      await exclusive(sync);
      await counters.settle();
    },
  };
}
