// A counting semaphore: at most `limit` holders at once, the others waiting in arrival order.

export interface Semaphore {
  /** Runs `work` once a permit is free, and frees it when `work` settles. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Permits held now (for tests and metrics). */
  readonly held: number;
}

export function createSemaphore(limit: number): Semaphore {
  let held = 0;
  const waiting: Array<() => void> = [];
  return {
    async run(work) {
      if (held < limit) held++;
      else await new Promise<void>((resolve) => waiting.push(resolve)); // handed over, held stays
      try {
        return await work();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else held--;
      }
    },
    get held() {
      return held;
    },
  };
}
