// Group commit: requests that arrive while a batch is being written wait and go in the next one.

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

/** Waits for `promise` to settle, or `ms` at most. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise<void>((r) => timer = setTimeout(r, ms))]);
  clearTimeout(timer);
}

/**
 * Answers `submit(item)`, which resolves once the batch holding the item has been written by
 * `writeBatch`. One batch is written at a time (with `limits`, a few when the earlier ones hang):
 * an idle service writes a lone item at once, and under load each write carries every item that
 * arrived during the previous one, so the cost of a commit is shared. When a whole batch fails, each of its items is written alone, so one bad item
 * cannot fail the others.
 */
export function groupCommit<In, Out>(
  writeBatch: (items: In[]) => Promise<ItemResult<Out>[]>,
  options: GroupCommitOptions,
): (item: In) => Promise<Out> {
  type Waiting = { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void };
  let queue: Waiting[] = [];
  let writing = false;
  const { limits } = options;

  function settle(waiting: Waiting, result: ItemResult<Out>) {
    if ("error" in result) waiting.reject(result.error);
    else waiting.resolve(result.value);
  }

  async function write(batch: Waiting[]): Promise<void> {
    try {
      const results = await writeBatch(batch.map((w) => w.item));
      batch.forEach((w, i) => settle(w, results[i]));
    } catch (err) {
      if (batch.length === 1 || !options.retryAlone(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      await Promise.all(batch.map((w) => write([w])));
    }
  }

  /** Writes still running: the current one, and those that hung past `maxWaitMs`. */
  const running = new Set<Promise<void>>();

  async function drain(): Promise<void> {
    writing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, options.maxBatch);
        queue = queue.slice(batch.length);
        if (!limits) {
          await write(batch);
          continue;
        }
        // A write that hangs (its database backend stopped answering) holds its own connection,
        // not every later delivery: past maxWaitMs the next batch goes on, a few at most at once.
        const written = write(batch).finally(() => running.delete(written));
        running.add(written);
        await settledWithin(written, limits.maxWaitMs);
        while (running.size >= MAX_RUNNING) await Promise.race(running);
      }
    } finally {
      writing = false;
    }
  }

  return function submit(item: In): Promise<Out> {
    if (limits && queue.length >= limits.maxPending) return Promise.reject(limits.refuse("full"));
    const { promise, resolve, reject } = Promise.withResolvers<Out>();
    const waiting: Waiting = { item, resolve, reject };
    if (limits) {
      const timer = setTimeout(() => {
        const at = queue.indexOf(waiting);
        if (at >= 0) queue.splice(at, 1); // its batch has not started: it never will
        reject(limits.refuse("late"));
      }, limits.maxWaitMs);
      // Settled by its batch (a later settle is a no-op): the timer goes with it.
      waiting.resolve = (out) => (clearTimeout(timer), resolve(out));
      waiting.reject = (err) => (clearTimeout(timer), reject(err));
    }
    queue.push(waiting);
    if (!writing) void drain();
    return promise;
  };
}
