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
}

/**
 * Answers `submit(item)`, which resolves once the batch holding the item has been written by
 * `writeBatch`. One batch is written at a time: an idle service writes a lone item at once, and
 * under load each write carries every item that arrived during the previous one, so the cost of a
 * commit is shared. When a whole batch fails, each of its items is written alone, so one bad item
 * cannot fail the others.
 */
export function groupCommit<In, Out>(
  writeBatch: (items: In[]) => Promise<ItemResult<Out>[]>,
  options: GroupCommitOptions,
): (item: In) => Promise<Out> {
  type Waiting = { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void };
  let queue: Waiting[] = [];
  let writing = false;

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

  async function drain(): Promise<void> {
    writing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, options.maxBatch);
        queue = queue.slice(batch.length);
        await write(batch);
      }
    } finally {
      writing = false;
    }
  }

  return function submit(item: In): Promise<Out> {
    const { promise, resolve, reject } = Promise.withResolvers<Out>();
    queue.push({ item, resolve, reject });
    if (!writing) void drain();
    return promise;
  };
}
