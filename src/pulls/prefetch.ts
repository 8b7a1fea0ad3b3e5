// Reads one item ahead of an async iterable, so the next vendor page is fetched while this one is stored.

/**
 * Yields what `source` yields, asking it for the next item as soon as the current one is handed
 * out: fetching page n+1 overlaps storing page n, and at most two pages are held at once. When the
 * consumer stops early, the read ahead is left to finish (or fail) unobserved, and the source is
 * told to end without waiting for it.
 */
export async function* prefetch<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let ahead = it.next();
  let finished = false;
  try {
    while (true) {
      const current = await ahead;
      if (current.done) {
        finished = true;
        return;
      }
      ahead = it.next();
      ahead.catch(() => {}); // awaited on the next turn; a consumer that stops never reads it
      yield current.value;
    }
  } finally {
    if (!finished) it.return?.().catch(() => {});
  }
}
