// Runs one claimed pull job: its steps planned from the work, the accounts of each kind of step
// walked several at once, every page stored through the PageWriter.
import { unsealCredential } from "../connections/credential.ts";
import * as connections from "../connections/connections.repository.ts";
import type { KeyRing } from "../crypto/seal.ts";
import type { Sql } from "../db/pool.ts";
import type { Outbox } from "../events/outbox.ts";
import type { Logger } from "../lib/logger.ts";
import type { Semaphore } from "../lib/semaphore.ts";
import * as transactions from "../transactions/transactions.repository.ts";
import type { AggregatorClient, TransactionPage } from "../vendors/aggregator.ts";
import type { Aggregators } from "../vendors/clients.ts";
import { PageWriter, type RunControl, type SkippedObserver, Stopping } from "./page_writer.ts";
import { prefetch } from "./prefetch.ts";
import { type Lease, LeaseLost } from "./pull_leases.repository.ts";
import {
  type Attempt,
  fail,
  handleFailure,
  lost,
  type PullOutcome,
  release,
  succeed,
} from "./pull_outcomes.ts";
import type { ClaimedPull } from "./pull_queue.repository.ts";
import { runAtMost } from "./walks.ts";
import { type Cursor, planSteps, type PullStep, runsOfOneKind } from "./work.ts";

export type { PullOutcome, RunControl };

/** A sync re-reads this much before an account's watermark, for transactions the vendor recorded
 * with a `createdAt` slightly in the past; upserts make the overlap free of duplicates. */
export const WATERMARK_OVERLAP_MS = 5 * 60_000;

/**
 * Page stores the pulls of one process run at once, whatever their number: the pool
 * (src/db/pool.ts) has 10 connections shared with the HTTP side, and a walk holds one only while
 * it stores a page, so 8 at most leave 2 to requests, claims and lease renewals.
 */
export const PAGE_STORES = 8;

/**
 * Accounts of one kind of step a pull walks at once (fewer when it has fewer): each walk fetches
 * while the others store, and 4 vendor requests in flight already hide a vendor's latency of
 * several times a page's store. Pulls share the process's page stores, so a lone pull walks as
 * many accounts as a busy pool's pulls do, and the stores, not the walks, bound the connections.
 */
export const WALKS_PER_PULL = 4;

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
  /** Accounts walked at once; WALKS_PER_PULL when absent. */
  walksPerPull?: number;
  /** The process's page stores, shared by its pulls; unbounded when absent (a lone run). */
  pageStores?: Semaphore;
  /** Told about the vendor rows each stored page skipped (the skipped-transactions metric). */
  observeSkipped?: SkippedObserver;
  /** Present when events are on: pages and pulls' ends append their events. */
  outbox?: Outbox;
}

/** Runs `job` (claimed under `lease`) to an outcome: succeeded, retrying, failed, dead or released. */
export async function runPull(
  deps: PullRunDeps,
  job: ClaimedPull,
  lease: Lease,
  control: RunControl,
): Promise<PullOutcome> {
  const attempt: Attempt = { deps, job, lease };
  try {
    const found = await connections.findSealedConnection(deps.sql, job.tenantId, {
      id: job.connectionId,
    });
    if (!found) {
      return await fail(attempt, {
        status: "failed",
        error: { reason: "connection_deleted", message: "the connection was deleted" },
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
        deps.walksPerPull ?? WALKS_PER_PULL,
        run.halt,
        (step) => runStep(run, client, step),
      );
    }
    return await succeed(attempt);
  } catch (err) {
    if (err instanceof LeaseLost) return lost(attempt);
    if (err instanceof Stopping) return control.release ? await release(attempt) : "abandoned";
    return await handleFailure(attempt, err);
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
    case "full":
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
      let walked = resume?.pages ?? 0;
      let finished = false;
      run.goOn(); // no first request once the walks are stopping
      const pages = prefetch(client.transactions({
        accountRef,
        accountId: step.accountId,
        createdFrom,
        resumeFrom: resume?.next,
        pagesBefore: walked,
      }));
      for await (const page of pages) {
        walked++;
        maxCreatedAt = latest(maxCreatedAt, page);
        // Only a complete walk of the account, from its watermark or its start, moves the
        // watermark.
        const walk = step.kind === "sync" || step.kind === "full";
        const watermark = walk && page.next === null ? maxCreatedAt : null;
        finished = page.next === null;
        await run.commit(step.key, {
          page,
          finished,
          resume: page.next ? { next: page.next, maxCreatedAt, pages: walked } : undefined,
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
