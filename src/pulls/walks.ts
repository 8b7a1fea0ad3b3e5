// Runs a pull's walks of one kind at most K at once; the first failure stops the rest.

/** Where the first failure of a set of walks is kept; the walks look at it before each page. */
export interface Halt {
  failure?: { error: unknown };
}

/**
 * Runs `walk` for each of `items`, at most `limit` at once, in their order. The first walk that
 * throws sets `halt.failure`; no further walk starts, the running ones are expected to look at
 * `halt` and stop at their next page, and once every started walk has settled the first error is
 * thrown. Later errors (a walk stopping because of `halt`, among others) are dropped.
 */
export async function runAtMost<T>(
  items: readonly T[],
  limit: number,
  halt: Halt,
  walk: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (!halt.failure && next < items.length) {
      const item = items[next++];
      try {
        await walk(item);
      } catch (error) {
        halt.failure ??= { error };
      }
    }
  };
  const lanes = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  if (halt.failure) throw halt.failure.error;
}
