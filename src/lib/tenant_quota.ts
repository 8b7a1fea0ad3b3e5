// Each tenant's requests a minute per class of operation, counted in Deno KV so that every replica
// shares them: a request waits for one KV read (and, when that read came back during a commit of
// this process's counts, for the commit's answer); the counts are summed in the background, every
// tenth of a second, in one commit.
import { commitKv } from "../db/kv.ts";
import { errorSummary } from "./error_summary.ts";
import type { Logger } from "./logger.ts";
import { type Allowance, createWindowCounters } from "./window_counters.ts";

/** Quotas by class of operation (the route classes of src/http/route_classes.ts). */
export interface TenantQuota<Class extends string = string> {
  /** The class's requests a minute; 0 when the operator turned its limit off. */
  limit(routeClass: Class): number;
  /** Counts one request of the tenant against the class's quota, unless the quota is used up. */
  take(tenantId: string, routeClass: Class): Promise<Allowance>;
  /** Writes the counts taken so far to KV now (what runs every `flushMs`). */
  flush(): Promise<void>;
  /** Writes the counts taken so far and stops the background work (a graceful stop). */
  close(): Promise<void>;
}

export const QUOTA_WINDOW_MS = 60_000;

/** Counts of one tenant and class in one window, as this process wrote them. */
interface Mine {
  key: Deno.KvKey;
  window: number;
  /** Taken here, not yet written. */
  unsent: number;
  /** Written, with their commit's versionstamp, until a read is known to hold them. */
  committed: Array<{ versionstamp: string; n: number }>;
  /** Reads of the count under way (committed counts are kept while one may need them). */
  reading: number;
}

/** KV mutations in one atomic operation, well under its limit. */
const WRITE_BATCH = 100;

/**
 * Fixed windows of a minute: a tenant may send `limits[class]` requests of a class in each
 * minute, and a burst across a minute's end can reach twice that. A request reads the shared
 * count and adds what this process took that the read cannot hold yet (counts not yet written,
 * or written after the read's snapshot, told apart by versionstamp), so one process never lets
 * more through than the quota. The counts are written without a check (no retry loop), all keys
 * in one commit every `flushMs`, not one per request: a commit syncs to disk, and a read queued
 * behind it on a local KV file waits for it. So other replicas see a request's count within
 * `flushMs` and a commit, and a tenant's requests spread over replicas can pass the quota by
 * what they send within that time, no more. Refused requests are not counted, so a client that
 * waits out `Retry-After` is served again.
 */
export function createTenantQuota<Class extends string>(
  kv: Deno.Kv,
  options: { limits: Record<Class, number>; now: () => number; logger: Logger; flushMs?: number },
): TenantQuota<Class> {
  const flushMs = options.flushMs ?? 100;
  const counters = createWindowCounters(kv, {
    prefix: "tenant_requests",
    windowMs: QUOTA_WINDOW_MS,
  });
  const mine = new Map<string, Mine>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> = Promise.resolve();
  /**
   * A commit of counts under way, settled once they are booked (in `committed`, or lost). A read
   * that returns meanwhile may already hold them while they are still `unsent`: it waits for this.
   */
  let committing: Promise<void> | undefined;
  let closed = false;
  let warnedIn = -1;

  function warn(window: number, err: unknown) {
    // KV unreachable: serve rather than refuse (the limit protects, it must not break), and say
    // so once a window.
    if (warnedIn === window) return;
    warnedIn = window;
    options.logger.warn({ msg: "rate limit not counted", error: errorSummary(err) });
  }

  /** Writes every unsent count, one operation per batch of keys; runs one at a time. */
  function flush(): Promise<void> {
    flushing = flushing.then(async () => {
      // A minute that has ended is read by nobody: its counts are dropped, not written.
      const { window } = counters.windowAt(options.now());
      for (const m of mine.values()) if (m.window < window) m.unsent = 0;
      const batch = [...mine.values()].filter((m) => m.unsent > 0).map((m) => ({
        m,
        n: m.unsent,
      }));
      for (let i = 0; i < batch.length; i += WRITE_BATCH) {
        const part = batch.slice(i, i + WRITE_BATCH);
        const op = kv.atomic();
        for (const { m, n } of part) op.sum(m.key, BigInt(n));
        committing = (async () => {
          try {
            const result = await commitKv(op);
            if (!result.ok) throw new Error("KV refused an unchecked sum");
            for (const { m, n } of part) m.committed.push({ versionstamp: result.versionstamp, n });
          } catch (err) {
            warn(part[0].m.window, err); // those counts are lost: the limit errs on serving
          }
          for (const { m, n } of part) m.unsent -= n;
        })();
        await committing;
        committing = undefined;
      }
    });
    return flushing;
  }

  function schedule(): void {
    if (timer !== undefined || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      flush().then(() => {
        if ([...mine.values()].some((m) => m.unsent > 0)) schedule();
      });
    }, flushMs);
    Deno.unrefTimer(timer);
  }

  /** Drops what this process holds of past windows once it is written. */
  function forget(window: number): void {
    for (const [id, m] of mine) if (m.window < window && m.unsent === 0) mine.delete(id);
  }

  return {
    limit: (routeClass) => options.limits[routeClass],
    async take(tenantId, routeClass) {
      const limit = options.limits[routeClass];
      const { window, endsInMs } = counters.windowAt(options.now());
      const resetSeconds = Math.max(1, Math.ceil(endsInMs / 1000));
      const id = `${window}/${routeClass}/${tenantId}`;
      let here = mine.get(id);
      if (!here) {
        forget(window);
        counters.prune(window);
        const key = counters.keyOf(window, [routeClass, tenantId]);
        mine.set(id, here = { key, window, unsent: 0, committed: [], reading: 0 });
      }
      let entry: Deno.KvEntryMaybe<Deno.KvU64>;
      here.reading++;
      try {
        entry = await kv.get<Deno.KvU64>(here.key);
        // Its counts' versionstamp tells whether this read holds them; until then they are unsent.
        await committing;
      } catch (err) {
        warn(window, err);
        return { allowed: true, limit, remaining: limit, resetSeconds };
      } finally {
        here.reading--;
      }
      // What the read holds, and what this process took that its snapshot cannot hold.
      const seen = entry.versionstamp ?? "";
      let used = (entry.value === null ? 0 : Number(entry.value.value)) + here.unsent;
      for (const c of here.committed) if (c.versionstamp > seen) used += c.n;
      if (here.reading === 0) here.committed = here.committed.filter((c) => c.versionstamp > seen);
      if (used >= limit) return { allowed: false, limit, remaining: 0, resetSeconds };
      here.unsent++;
      schedule();
      return { allowed: true, limit, remaining: Math.max(0, limit - used - 1), resetSeconds };
    },
    flush,
    async close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      await flush();
      await counters.settle();
    },
  };
}
