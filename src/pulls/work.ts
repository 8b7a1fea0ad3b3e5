// What a pull job fetches, how later triggers merge into a queued job, and the steps it runs in.

/** The work of one pull job; a queued job absorbs later triggers by merging theirs into it. */
export interface PullWork {
  /** Every account of the connection, each from its watermark. */
  sync?: boolean;
  /** Account id → the earliest vendor `createdAt` to fetch (ISO 8601); never moves a watermark. */
  createdFrom?: Record<string, string>;
  /** Account id → transaction ids to fetch again (they changed at the vendor). */
  ids?: Record<string, string[]>;
  /** Vendor transaction ids the vendor deleted; their rows are hidden. */
  deleted?: string[];
}

/**
 * Where a paged step stopped: the vendor's link to its next page, the latest `createdAt` seen, and
 * how many pages it stored (absent in checkpoints written before the cap).
 */
export interface Cursor {
  next: string;
  maxCreatedAt: string | null;
  /** Pages of the walk stored so far, over its attempts, for the cap on pages per walk. */
  pages?: number;
}

/**
 * How far an attempt got: the finished steps, and the page to resume each unfinished step from.
 * Several steps of one kind are walked at once, so several can be mid-walk.
 */
export interface Checkpoint {
  done: string[];
  /** Step key → its cursor; a step is dropped from here when it finishes. */
  cursors?: Record<string, Cursor>;
  /** The one mid-walk step, as checkpoints written before the walks ran at once stored it. */
  current?: { step: string } & Cursor;
}

/** The cursor to resume each unfinished step from, an older checkpoint's `current` included. */
export function cursorsOf(checkpoint: Checkpoint): Record<string, Cursor> {
  const cursors = { ...checkpoint.cursors };
  const legacy = checkpoint.current;
  if (legacy && !(legacy.step in cursors)) {
    cursors[legacy.step] = { next: legacy.next, maxCreatedAt: legacy.maxCreatedAt };
  }
  return cursors;
}

export type PullStep =
  | { key: string; kind: "created"; accountId: string; from: string }
  | { key: string; kind: "ids"; accountId: string; ids: string[] }
  | { key: string; kind: "sync"; accountId: string }
  | { key: string; kind: "deleted"; ids: string[] };

const union = (a: string[] = [], b: string[] = []) => [...new Set([...a, ...b])];

/** The work of both: sync if either syncs, the earlier created-from, the union of ids. */
export function mergeWork(a: PullWork, b: PullWork): PullWork {
  const merged: PullWork = {};
  if (a.sync || b.sync) merged.sync = true;
  const createdFrom = { ...a.createdFrom };
  for (const [account, from] of Object.entries(b.createdFrom ?? {})) {
    const earlier = createdFrom[account];
    createdFrom[account] = earlier && Date.parse(earlier) <= Date.parse(from) ? earlier : from;
  }
  if (Object.keys(createdFrom).length) merged.createdFrom = createdFrom;
  const ids = { ...a.ids };
  for (const [account, list] of Object.entries(b.ids ?? {})) {
    ids[account] = union(ids[account], list);
  }
  if (Object.keys(ids).length) merged.ids = ids;
  const deleted = union(a.deleted, b.deleted);
  if (deleted.length) merged.deleted = deleted;
  return merged;
}

/**
 * The steps of a job, in a fixed order so that a resumed attempt finds its checkpoint's step again:
 * targeted fetches first, then every account from its watermark, and deletions last, so that a
 * transaction deleted after it changed ends up hidden. `accounts` is asked for only when syncing.
 */
export async function planSteps(
  work: PullWork,
  accounts: () => Promise<string[]>,
): Promise<PullStep[]> {
  const steps: PullStep[] = [];
  for (const [accountId, from] of sorted(work.createdFrom)) {
    steps.push({ key: `created:${accountId}`, kind: "created", accountId, from });
  }
  for (const [accountId, ids] of sorted(work.ids)) {
    steps.push({ key: `ids:${accountId}`, kind: "ids", accountId, ids });
  }
  if (work.sync) {
    for (const accountId of [...new Set(await accounts())].sort()) {
      steps.push({ key: `sync:${accountId}`, kind: "sync", accountId });
    }
  }
  if (work.deleted?.length) steps.push({ key: "deleted", kind: "deleted", ids: work.deleted });
  return steps;
}

/**
 * `steps` cut where the kind changes, in their order: the steps of one run may be walked at once,
 * and each run only after the one before it finished.
 */
export function runsOfOneKind(steps: PullStep[]): PullStep[][] {
  const runs: PullStep[][] = [];
  for (const step of steps) {
    const last = runs.at(-1);
    if (last && last[0].kind === step.kind) last.push(step);
    else runs.push([step]);
  }
  return runs;
}

function sorted<T>(record: Record<string, T> | undefined): [string, T][] {
  return Object.entries(record ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
