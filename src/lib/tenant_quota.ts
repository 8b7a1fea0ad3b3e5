// Each tenant's requests a minute per class of operation, counted in Deno KV so that every replica
// shares them: a request waits for one KV read; its count is summed in the background, together
// with the other requests' of the moment.
import { commitKv } from "../db/kv.ts";
import { errorSummary } from "./error_summary.ts";
import { groupCommit } from "./group_commit.ts";
import type { Logger } from "./logger.ts";
import { type Allowance, createWindowCounters } from "./window_counters.ts";

/** A request's place in its quota, and when its count is in KV for every replica to read. */
export interface Taken {
  allowance: Allowance;
  /** Resolves once the request's count is in KV (at once for a refused one); never rejects. */
  counted: Promise<void>;
}

/** Quotas by class of operation (the route classes of src/http/route_classes.ts). */
export interface TenantQuota<Class extends string = string> {
  /** The class's requests a minute; 0 when the operator turned its limit off. */
  limit(routeClass: Class): number;
  /** Counts one request of the tenant against the class's quota, unless the quota is used up. */
  take(tenantId: string, routeClass: Class): Promise<Taken>;
  /** Waits for the background KV work: the sums in flight, and pruning past windows. */
  close(): Promise<void>;
}

export const QUOTA_WINDOW_MS = 60_000;

/** Counts of one tenant and class in one window, as this process sent them. */
interface Sent {
  /** Taken here, their sums not yet committed. */
  unsent: number;
  /** Committed sums with their versionstamps, until a read is known to include them. */
  committed: Array<{ versionstamp: string; n: number }>;
  /** Reads of the count under way (committed sums are kept while one may need them). */
  reading: number;
}

/**
 * Fixed windows of a minute: a tenant may send `limits[class]` requests of a class in each
 * minute, and a burst across a minute's end can reach twice that. A request reads the shared
 * count and adds what this process counted that the read cannot include yet (sums in flight, or
 * committed after the read's snapshot, told apart by versionstamp), so one process never lets
 * more through than the quota. Its own sum is written without a check (no retry loop) in a group
 * commit, which the request does not wait for: a commit takes a millisecond or more (a sync to
 * disk), a read a few hundredths. So the other replicas see a request's count a commit later, and
 * the quota can be passed by what a tenant sends elsewhere meanwhile and what it has in flight at
 * once, no more. Refused requests are not counted, so a client that waits out `Retry-After` is
 * served again.
 */
export function createTenantQuota<Class extends string>(
  kv: Deno.Kv,
  options: { limits: Record<Class, number>; now: () => number; logger: Logger },
): TenantQuota<Class> {
  const counters = createWindowCounters(kv, {
    prefix: "tenant_requests",
    windowMs: QUOTA_WINDOW_MS,
  });
  const sent = new Map<string, Sent>();
  const inFlight = new Set<Promise<void>>();
  let warnedIn = -1;

  function warn(window: number, err: unknown) {
    // KV unreachable: serve rather than refuse (the limit protects, it must not break), and say
    // so once a window.
    if (warnedIn === window) return;
    warnedIn = window;
    options.logger.warn({ msg: "rate limit not counted", error: errorSummary(err) });
  }

  // Every sum of the moment in one unchecked atomic operation; each learns its versionstamp.
  const addOne = groupCommit(async (keys: Deno.KvKey[]) => {
    const op = kv.atomic();
    for (const key of keys) op.sum(key, 1n);
    const result = await commitKv(op);
    if (!result.ok) throw new Error("KV refused an unchecked sum");
    return keys.map(() => ({ value: result.versionstamp }));
  }, { maxBatch: 100, retryAlone: () => false });

  function forget(window: number) {
    for (const [id, s] of sent) {
      if (s.unsent === 0 && Number(id.slice(0, id.indexOf("/"))) < window) sent.delete(id);
    }
  }

  return {
    limit: (routeClass) => options.limits[routeClass],
    async take(tenantId, routeClass) {
      const limit = options.limits[routeClass];
      const { window, endsInMs } = counters.windowAt(options.now());
      const resetSeconds = Math.max(1, Math.ceil(endsInMs / 1000));
      const key = counters.keyOf(window, [routeClass, tenantId]);
      const id = `${window}/${routeClass}/${tenantId}`;
      let mine = sent.get(id);
      if (!mine) {
        forget(window);
        counters.prune(window);
        sent.set(id, mine = { unsent: 0, committed: [], reading: 0 });
      }
      const here = mine;
      let entry: Deno.KvEntryMaybe<Deno.KvU64>;
      here.reading++;
      try {
        entry = await kv.get<Deno.KvU64>(key);
      } catch (err) {
        warn(window, err);
        const allowance = { allowed: true, limit, remaining: limit, resetSeconds };
        return { allowance, counted: Promise.resolve() };
      } finally {
        here.reading--;
      }
      // What the read holds, and what this process counted that the read's snapshot cannot hold.
      const seen = entry.versionstamp ?? "";
      let used = (entry.value === null ? 0 : Number(entry.value.value)) + here.unsent;
      for (const c of here.committed) if (c.versionstamp > seen) used += c.n;
      if (here.reading === 0) here.committed = here.committed.filter((c) => c.versionstamp > seen);
      if (used >= limit) {
        const allowance = { allowed: false, limit, remaining: 0, resetSeconds };
        return { allowance, counted: Promise.resolve() };
      }
      here.unsent++;
      const counted = addOne(key).then((versionstamp) => {
        here.unsent--;
        here.committed.push({ versionstamp, n: 1 });
      }, (err) => {
        here.unsent--;
        warn(window, err);
      });
      inFlight.add(counted);
      counted.finally(() => inFlight.delete(counted));
      const remaining = Math.max(0, limit - used - 1);
      return { allowance: { allowed: true, limit, remaining, resetSeconds }, counted };
    },
    async close() {
      await Promise.all(inFlight);
      await counters.settle();
    },
  };
}
