// Group commit: requests that arrive while a batch is being written wait and go in the next one.
import { timeout } from "./timeouts.ts";

/** What a batch answers for one of its items: a value, or that item's own failure. */
export type ItemResult<Out> = { value: Out } | { error: unknown };

export interface GroupCommitOptions {
  /** The most items one batch takes; the rest wait for the next. */
  maxBatch: number;
  /**
   * Whether a failed batch's items are worth trying one by one: not when the failure is the
   * database being down, which would fail each of them the same way.
   */
  retryAlone: (err: unknown) => boolean;
  /**
   * Bounds for a database that hangs, when a write neither succeeds nor fails: at most
   * `maxPending` items wait for a batch (the next is refused at once), and an item waits at most
   * `maxWaitMs` for its batch to be written (then it is refused, and leaves the queue if its batch
   * has not started). `refuse` makes the error of either refusal.
   */
  limits?: {
    maxPending: number;
    maxWaitMs: number;
    refuse: (why: "full" | "late") => unknown;
  };
}

/** Batches written at once at most, when the earlier ones hang. */
const MAX_RUNNING = 3;

/**
 * Answers `submit(item)`, which resolves once the batch holding the item has been written by
 * `writeBatch`. One batch is written at a time (with `limits`, a few when the earlier ones hang):
 * an idle service writes a lone item at once, and under load each write carries every item that
 * arrived during the previous one, so the cost of a commit is shared. The next batch is sent as
 * soon as the database is done with one, before that one's items are answered, so that answering
 * them overlaps the next write. When a whole batch fails, each of its items is written alone, so
 * one bad item cannot fail the others.
 */
export function groupCommit<In, Out>(
  writeBatch: (items: In[]) => Promise<ItemResult<Out>[]>,
  options: GroupCommitOptions,
): (item: In) => Promise<Out> {
  type Waiting = { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void };
  let queue: Waiting[] = [];
  /** Whether a batch is being written that has not hung past `maxWaitMs`. */
  let writing = false;
  /** Batches being written: that one, and those that hung. */
  let running = 0;
  const { limits } = options;

  function settle(waiting: Waiting, result: ItemResult<Out>) {
    if ("error" in result) waiting.reject(result.error);
    else waiting.resolve(result.value);
  }

  /** Each item's result: the batch's, or after a failed batch each item's written alone. */
  async function results(items: In[]): Promise<ItemResult<Out>[]> {
    try {
      return await writeBatch(items);
    } catch (err) {
      if (items.length === 1 || !options.retryAlone(err)) return items.map(() => ({ error: err }));
      return (await Promise.all(items.map((item) => results([item])))).flat();
    }
  }

  /** Starts writing the next batch, unless one is being written (or too many hang). */
  function next(): void {
    if (writing || queue.length === 0 || (limits && running >= MAX_RUNNING)) return;
    const batch = queue.slice(0, options.maxBatch);
    queue = queue.slice(batch.length);
    writing = true;
    running++;
    let released = false;
    // The database is done with the batch, or it hung past maxWaitMs: the next batch may go. A
    // write that hangs (its backend stopped answering) holds its own connection, not every later
    // delivery.
    const release = () => {
      if (released) return;
      released = true;
      writing = false;
      next();
    };
    const cancelLate = limits ? timeout(limits.maxWaitMs, release) : undefined;
    void results(batch.map((w) => w.item)).then((out) => {
      cancelLate?.();
      running--;
      release();
      batch.forEach((w, i) => settle(w, out[i]));
      next(); // a write that hung and ended leaves room for another
    });
  }

  return function submit(item: In): Promise<Out> {
    if (limits && queue.length >= limits.maxPending) return Promise.reject(limits.refuse("full"));
    const { promise, resolve, reject } = Promise.withResolvers<Out>();
    const waiting: Waiting = { item, resolve, reject };
    if (limits) {
      const cancel = timeout(limits.maxWaitMs, () => {
        const at = queue.indexOf(waiting);
        if (at >= 0) queue.splice(at, 1); // its batch has not started: it never will
        reject(limits.refuse("late"));
      });
      // Settled by its batch (a later settle is a no-op): the timeout goes with it.
      waiting.resolve = (out) => (cancel(), resolve(out));
      waiting.reject = (err) => (cancel(), reject(err));
    }
    queue.push(waiting);
    next();
    return promise;
  };
}
