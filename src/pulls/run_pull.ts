// Runs one claimed pull job: each page stored with the job's checkpoint in one transaction, the
// accounts of each kind of step walked several at once.
import type postgres from "postgres";
import { unsealCredential } from "../connections/credential.ts";
import * as connections from "../connections/connections.repository.ts";
import type { KeyRing } from "../crypto/seal.ts";
import { SealError } from "../crypto/seal.ts";
import type { Sql } from "../db/pool.ts";
import type { Logger } from "../http/logger.ts";
import * as transactions from "../transactions/transactions.repository.ts";
import type { AggregatorClient, TransactionPage } from "../vendors/aggregator.ts";
import type { Aggregators } from "../vendors/clients.ts";
import { VendorError } from "../vendors/errors.ts";
import { retryDelayMs } from "./backoff.ts";
import { prefetch } from "./prefetch.ts";
import * as repo from "./pulls.repository.ts";
import { type Cursor, cursorsOf, planSteps, type PullStep, runsOfOneKind } from "./work.ts";
import { type Halt, runAtMost } from "./walks.ts";

/** A sync re-reads this much before an account's watermark, for transactions the vendor recorded
 * with a `createdAt` slightly in the past; upserts make the overlap free of duplicates. */
export const WATERMARK_OVERLAP_MS = 5 * 60_000;

/**
 * Page stores the pulls of one process may run at once. The pool (src/db/pool.ts) has 10
 * connections shared with the HTTP side; a walk holds one only while it stores a page, so 8 page
 * stores at most leave 2 to requests, claims and lease renewals even when every walk stores (a
 * pool of more than 8 pulls walks one account at a time each, and takes as many as before).
 */
const PAGE_STORES = 8;
/** More walks than this add no Postgres backend that has a core to run on (2 cores here). */
const MAX_WALKS = 4;

/**
 * Accounts of one kind of step each pull walks at once, each page's upsert in its own transaction
 * on its own connection so that several Postgres backends work: PAGE_STORES shared by the pool's
 * `concurrency` pulls, between 1 and MAX_WALKS. At the default MATCHER_PULL_CONCURRENCY of 4 that
 * is 2 walks a pull (4 × 2 = 8 connections at most); a pool of 1 or 2 pulls walks 4.
 */
export function walksPerPull(concurrency: number): number {
  return Math.max(1, Math.min(MAX_WALKS, Math.floor(PAGE_STORES / concurrency)));
}

export interface PullRunDeps {
  sql: Sql;
  keyRing: KeyRing;
  aggregators: Aggregators;
  logger: Logger;
  now: () => number;
  /** How long a claim holds without progress before the sweep hands the job to another worker. */
  leaseMs: number;
  maxAttempts: number;
  random?: () => number;
  /** Accounts walked at once; the pool sets `walksPerPull(concurrency)`, 1 when absent. */
  walksPerPull?: number;
}

/** What stops a run between pages: the pool shutting down, handing its jobs back or not. */
export interface RunControl {
  readonly stopping: boolean;
  /** False leaves a stopped job held, as a crash would, until its lease runs out. */
  readonly release: boolean;
}

/** Thrown between pages when the pool is stopping; the job is released, not failed. */
class Stopping extends Error {}

/** Thrown between pages of a walk when another walk of the job failed; that failure is handled. */
class Halted extends Error {}

/**
 * How an attempt ended: the status it left the job in (`succeeded`, `retrying`, `failed`, `dead`),
 * `released` (handed back at shutdown), `abandoned` (left held by a stop without release) or
 * `lost` (another worker or a delete took the job first).
 */
export type PullOutcome =
  | Exclude<repo.PullStatus, "queued" | "running">
  | "released"
  | "abandoned"
  | "lost";

/** Runs `job` (claimed under `lease`) to an outcome: succeeded, retrying, failed, dead or released. */
export async function runPull(
  deps: PullRunDeps,
  job: repo.PullRow,
  lease: repo.Lease,
  control: RunControl,
): Promise<PullOutcome> {
  const at = () => new Date(deps.now());
  try {
    const found = await connections.findSealedById(deps.sql, job.tenantId, job.connectionId);
    if (!found) {
      return await fail(deps, lease, "failed", job, {
        reason: "connection_deleted",
        message: "the connection was deleted",
      });
    }
    const { row, sealed } = found;
    const credential = await unsealCredential(deps.keyRing, {
      tenantId: job.tenantId,
      connectionId: row.id,
      vendor: row.vendor,
    }, sealed);
    const client = deps.aggregators.client(row.vendor, row.baseUrl, credential);
    const run = new PageWriter(deps, job, lease, row, control);
    const steps = await planSteps(
      job.work,
      async () => (await client.listAccounts(row.accountRef)).map((a) => a.id),
    );
    const todo = steps.filter((step) => !job.checkpoint.done.includes(step.key));
    // The kinds stay in their order (a deletion must come after the fetches it follows); the
    // accounts of one kind are walked at once. The first failure stops the other walks before
    // their next page, and is thrown only once every walk has settled: no page of this attempt
    // is stored after the job was handed back.
    for (const ofKind of runsOfOneKind(todo)) {
      await runAtMost(
        ofKind,
        deps.walksPerPull ?? 1,
        run.halt,
        (step) => runStep(run, client, step),
      );
    }
    if (!(await repo.finishPull(deps.sql, lease, { status: "succeeded", now: at() }))) {
      return lost(deps, job);
    }
    deps.logger.info({ msg: "pull succeeded", ...logFields(job) });
    return "succeeded";
  } catch (err) {
    if (err instanceof repo.LeaseLost) return lost(deps, job);
    if (err instanceof Stopping) {
      if (!control.release) return "abandoned";
      return (await repo.releasePull(deps.sql, lease, at())) ? "released" : lost(deps, job);
    }
    return await handleFailure(deps, job, lease, err);
  }
}

async function runStep(run: PageWriter, client: AggregatorClient, step: PullStep): Promise<void> {
  const accountRef = run.connection.accountRef;
  switch (step.kind) {
    case "deleted":
      return await run.commit(step.key, { deleted: step.ids, finished: true });
    case "ids": {
      // By-id fetches are short and cannot resume mid-way; the step is redone whole if it stops.
      run.goOn();
      const pages = prefetch(client.transactionsByIds({
        accountRef,
        accountId: step.accountId,
        ids: step.ids,
      }));
      for await (const page of pages) await run.commit(step.key, { page, finished: false });
      return await run.commit(step.key, { finished: true });
    }
    case "created":
    case "sync": {
      const resume: Cursor | undefined = run.cursors[step.key];
      let createdFrom = step.kind === "created" ? step.from : undefined;
      if (step.kind === "sync") {
        const mark = await transactions.findWatermark(
          run.deps.sql,
          run.job.connectionId,
          step.accountId,
        );
        if (mark) createdFrom = new Date(mark.getTime() - WATERMARK_OVERLAP_MS).toISOString();
      }
      let maxCreatedAt = resume?.maxCreatedAt ?? null;
      let finished = false;
      run.goOn(); // no first request once the walks are stopping
      const pages = prefetch(client.transactions({
        accountRef,
        accountId: step.accountId,
        createdFrom,
        resumeFrom: resume?.next,
      }));
      for await (const page of pages) {
        maxCreatedAt = latest(maxCreatedAt, page);
        // Only a complete walk of the account from its watermark moves the watermark.
        const watermark = step.kind === "sync" && page.next === null ? maxCreatedAt : null;
        finished = page.next === null;
        await run.commit(step.key, {
          page,
          finished,
          resume: page.next ? { next: page.next, maxCreatedAt } : undefined,
          watermark: watermark ? { accountId: step.accountId, createdUpTo: watermark } : undefined,
        });
      }
      // A walk that yielded no page at all still finishes its step.
      if (!finished) await run.commit(step.key, { finished: true });
    }
  }
}

/** The latest vendor `createdAt` of `page` and `current`, as ISO text. */
function latest(current: string | null, page: TransactionPage): string | null {
  let best = current ? Date.parse(current) : -Infinity;
  for (const t of page.transactions) {
    const ms = t.createdAt ? Date.parse(t.createdAt) : NaN;
    if (ms > best) best = ms;
  }
  return Number.isFinite(best) ? new Date(best).toISOString() : null;
}

/**
 * Writes a job's pages and checkpoints, each in one transaction fenced by the job's lease. Several
 * walks commit through it at once; each commit changes only its own step in the stored checkpoint.
 */
class PageWriter {
  /** Where each unfinished step resumes, as this attempt found the job. */
  readonly cursors: Record<string, Cursor>;
  /** Set by the first walk that fails; the others stop at their next commit. */
  readonly halt: Halt = {};
  constructor(
    readonly deps: PullRunDeps,
    readonly job: repo.PullRow,
    readonly lease: repo.Lease,
    readonly connection: connections.ConnectionRow,
    readonly control: RunControl,
  ) {
    this.cursors = cursorsOf(job.checkpoint);
  }

  /** Throws when the walks must stop: the pool is stopping, or another walk of the job failed. */
  goOn(): void {
    if (this.halt.failure) throw new Halted();
    if (this.control.stopping) throw new Stopping();
  }

  async commit(step: string, what: {
    page?: TransactionPage;
    deleted?: string[];
    finished: boolean;
    resume?: Cursor;
    watermark?: { accountId: string; createdUpTo: string };
  }): Promise<void> {
    this.goOn();
    const owner = {
      tenantId: this.job.tenantId,
      connectionId: this.job.connectionId,
      vendor: this.connection.vendor,
    };
    await this.deps.sql.begin(async (tx: postgres.TransactionSql) => {
      const upserted = what.page
        ? await transactions.upsertTransactions(tx, owner, what.page.transactions)
        : 0;
      if (what.deleted) await transactions.markDeleted(tx, owner, what.deleted);
      if (what.watermark) {
        await transactions.advanceWatermark(
          tx,
          this.job.connectionId,
          what.watermark.accountId,
          what.watermark.createdUpTo,
        );
      }
      await repo.recordProgress(tx, this.lease, {
        step,
        finished: what.finished,
        cursor: what.resume,
        pages: what.page ? 1 : 0,
        upserted,
        leaseUntil: new Date(this.deps.now() + this.deps.leaseMs),
      });
    });
  }
}

/** Sorts a failure: the tenant must fix it (failed at once), or it may pass (retried, then dead). */
function handleFailure(
  deps: PullRunDeps,
  job: repo.PullRow,
  lease: repo.Lease,
  err: unknown,
): Promise<PullOutcome> {
  if (err instanceof VendorError) {
    const error = { reason: err.reason, message: err.message };
    if (err.kind === "credentials_rejected" || err.kind === "not_found") {
      return fail(deps, lease, "failed", job, error, err.details);
    }
    return retryOrDie(deps, job, lease, error, err.details);
  }
  if (err instanceof SealError) {
    return fail(deps, lease, "failed", job, {
      reason: "credential_unreadable",
      message: "the stored credential cannot be opened with the configured seal keys",
    });
  }
  // Anything else (the database going away, a bug) may pass; the name only: errors from
  // postgres.js carry query parameters.
  const e = err as { name?: string; code?: string };
  return retryOrDie(deps, job, lease, {
    reason: "internal_error",
    message: `the pull stopped on an internal error${e?.code ? ` (${e.code})` : ""}`,
  }, {});
}

async function retryOrDie(
  deps: PullRunDeps,
  job: repo.PullRow,
  lease: repo.Lease,
  error: repo.PullError,
  details: { status?: number; retryAfterMs?: number; vendorCode?: string },
): Promise<PullOutcome> {
  if (job.attempts >= deps.maxAttempts) return fail(deps, lease, "dead", job, error, details);
  const delay = retryDelayMs(job.attempts, details.retryAfterMs, deps.random);
  const at = new Date(deps.now() + delay);
  if (!(await repo.retryPull(deps.sql, lease, { at, error }))) return lost(deps, job);
  deps.logger.warn({
    msg: "pull failed; will retry",
    ...logFields(job),
    retryAt: at.toISOString(),
    error: { ...error, ...details },
  });
  return "retrying";
}

async function fail(
  deps: PullRunDeps,
  lease: repo.Lease,
  status: "failed" | "dead",
  job: repo.PullRow,
  error: repo.PullError,
  details: object = {},
): Promise<PullOutcome> {
  const ok = await repo.finishPull(deps.sql, lease, { status, error, now: new Date(deps.now()) });
  if (!ok) return lost(deps, job);
  deps.logger.warn({ msg: `pull ${status}`, ...logFields(job), error: { ...error, ...details } });
  return status;
}

/** The job is no longer this worker's: the sweep or another worker took it, or it was cancelled. */
function lost(deps: PullRunDeps, job: repo.PullRow): "lost" {
  deps.logger.warn({ msg: "pull lease lost", ...logFields(job) });
  return "lost";
}

function logFields(job: repo.PullRow) {
  return { jobId: job.id, connectionId: job.connectionId, attempt: job.attempts };
}
