// Deno KV opens and commits that wait out another process writing the same local KV file.

/**
 * True for the error a checked commit throws while another process writes the same SQLite KV file
 * (replicas sharing one file: SQLite cannot wait for the lock when its read snapshot went stale).
 */
export function isKvBusy(err: unknown): boolean {
  return err instanceof Error && /database is locked/i.test(err.message);
}

export interface CommitOptions {
  /** Tries before a busy file is an error. */
  attempts?: number;
  /** Waits `ms`; tests pass their own. */
  wait?: (ms: number) => Promise<void>;
  random?: () => number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Commits `op`, committing it again after a short random wait while the KV file is busy: a busy
 * commit wrote nothing, and its checks are checked again. Any other error, or a file still busy
 * after the last try, is thrown.
 */
export function commitKv(
  op: Deno.AtomicOperation,
  options: CommitOptions = {},
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  return whileBusy(() => op.commit(), options);
}

/**
 * Opens the KV store at `path`, opening it again while another process holds the file's lock
 * (replicas starting together both set the file up). `open` is `Deno.openKv` unless a test passes
 * its own.
 */
export function openKv(
  path: string | undefined,
  options: CommitOptions & { open?: (path?: string) => Promise<Deno.Kv> } = {},
): Promise<Deno.Kv> {
  const open = options.open ?? Deno.openKv;
  return whileBusy(() => open(path), options);
}

async function whileBusy<T>(attempt: () => Promise<T>, options: CommitOptions): Promise<T> {
  const attempts = options.attempts ?? 40;
  const wait = options.wait ?? sleep;
  const random = options.random ?? Math.random;
  for (let tried = 1;; tried++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isKvBusy(err) || tried >= attempts) throw err;
      await wait(random() * Math.min(100, 2 ** tried));
    }
  }
}
