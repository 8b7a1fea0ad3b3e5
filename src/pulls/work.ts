// What a pull job fetches, how later triggers merge into a queued job, and the steps it runs in.

/**
 * The work of one pull job; a queued job absorbs later triggers by merging theirs into it (in
 * Postgres: `queue_pulls` and `merge_pull_work` in migration 0006).
 */
export interface PullWork {
  /** Every account of the connection, each from its watermark. */
  sync?: boolean;
  /** Account id → the earliest vendor `createdAt` to fetch (ISO 8601); never moves a watermark. */
  createdFrom?: Record<string, string>;
  /**
   * Accounts walked whole, from their first transaction: those whose ids to fetch again outgrew
   * the limit (a walk covers any change with calls bounded by the account's size).
   */
  full?: string[];
  /** Account id → transaction ids to fetch again (they changed at the vendor). */
  ids?: Record<string, string[]>;
  /** Vendor transaction ids the vendor deleted; their rows are hidden. */
  deleted?: string[];
}

/** The part of the work kept in the pull's row: what stays small however much is announced. */
export type StoredWork = Pick<PullWork, "sync" | "createdFrom" | "full">;

/** One transaction id of the work, kept as a row of its own (`pull_job_items`). */
export interface PullItem {
  kind: "ids" | "deleted";
  /** The account whose transaction to fetch again; "" for a deletion. */
  account: string;
  id: string;
}

/** The work as stored: its row's part and its items. */
export function splitWork(work: PullWork): { work: StoredWork; items: PullItem[] } {
  const { ids, deleted, ...stored } = work;
  const items: PullItem[] = [];
  for (const [account, list] of Object.entries(ids ?? {})) {
    for (const id of list) items.push({ kind: "ids", account, id });
  }
  for (const id of deleted ?? []) items.push({ kind: "deleted", account: "", id });
  return { work: stored, items };
}

/** The work from its stored parts. */
export function joinWork(stored: StoredWork, items: PullItem[]): PullWork {
  const work: PullWork = { ...stored };
  for (const item of items) {
    if (item.kind === "deleted") (work.deleted ??= []).push(item.id);
    else ((work.ids ??= {})[item.account] ??= []).push(item.id);
  }
  return work;
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
  | { key: string; kind: "full"; accountId: string }
  | { key: string; kind: "sync"; accountId: string }
  | { key: string; kind: "deleted"; ids: string[] };

/**
 * The steps of a job, in a fixed order so that a resumed attempt finds its checkpoint's step again:
 * targeted fetches first, then the accounts walked whole, then every other account from its
 * watermark, and deletions last, so that a transaction deleted after it changed ends up hidden.
 * `accounts` is asked for only when syncing.
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
  const full = [...new Set(work.full)].sort();
  for (const accountId of full) steps.push({ key: `full:${accountId}`, kind: "full", accountId });
  if (work.sync) {
    for (const accountId of [...new Set(await accounts())].sort()) {
      if (!full.includes(accountId)) {
        steps.push({ key: `sync:${accountId}`, kind: "sync", accountId });
      }
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
