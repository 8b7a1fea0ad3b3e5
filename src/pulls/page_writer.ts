// Stores a pull's pages, each with the job's checkpoint in one transaction fenced by its lease.
import type postgres from "postgres";
import type { ConnectionRow } from "../connections/connections.repository.ts";
import type { Sql } from "../db/pool.ts";
import type { Semaphore } from "../lib/semaphore.ts";
import { ROUTING_KEYS } from "../events/event_bodies.ts";
import { numberEvents, writeChangesEvent } from "../events/events.repository.ts";
import type { Outbox } from "../events/outbox.ts";
import * as transactions from "../transactions/transactions.repository.ts";
import type { Logger } from "../lib/logger.ts";
import type { TransactionPage } from "../vendors/aggregator.ts";
import type { SkippedTransaction, SkipReason } from "../vendors/transaction_rules.ts";
import type { Vendor } from "../vendors/vendors.ts";
import * as leases from "./pull_leases.repository.ts";
import { SKIPPED_KEPT } from "./pull_leases.repository.ts";
import type { PullRow } from "./pulls.repository.ts";
import type { Halt } from "./walks.ts";
import { type Cursor, cursorsOf } from "./work.ts";

/** What stops a run between pages: the pool shutting down, handing its jobs back or not. */
export interface RunControl {
  readonly stopping: boolean;
  /** False leaves a stopped job held, as a crash would, until its lease runs out. */
  readonly release: boolean;
}

/** Thrown between pages when the pool is stopping; the job is released, not failed. */
export class Stopping extends Error {}

/** Thrown between pages of a walk when another walk of the job failed; that failure is handled. */
class Halted extends Error {}

/** Told how many vendor rows of one reason a stored page skipped, for the metric. */
export type SkippedObserver = (
  skipped: { vendor: Vendor; reason: SkipReason; count: number },
) => void;

/** One commit of a step: a page and/or deletions, where the step stands, the account's watermark. */
export interface StepCommit {
  page?: TransactionPage;
  deleted?: string[];
  finished: boolean;
  resume?: Cursor;
  watermark?: { accountId: string; createdUpTo: string };
}

/**
 * Writes a job's pages and checkpoints, each in one transaction fenced by the job's lease. Several
 * walks commit through it at once; each commit changes only its own step in the stored checkpoint.
 */
export class PageWriter {
  /** Where each unfinished step resumes, as this attempt found the job. */
  readonly cursors: Record<string, Cursor>;
  /** Set by the first walk that fails; the others stop at their next commit. */
  readonly halt: Halt = {};
  constructor(
    readonly deps: {
      sql: Sql;
      now: () => number;
      leaseMs: number;
      logger: Logger;
      observeSkipped?: SkippedObserver;
      /** The process's page stores, shared by its pulls. */
      pageStores?: Semaphore;
      /** Present when events are on: the page's changes become its event. */
      outbox?: Outbox;
    },
    readonly job: PullRow,
    readonly lease: leases.Lease,
    readonly connection: ConnectionRow,
    readonly control: RunControl,
  ) {
    this.cursors = cursorsOf(job.checkpoint);
  }

  /** Throws when the walks must stop: the pool is stopping, or another walk of the job failed. */
  goOn(): void {
    if (this.halt.failure) throw new Halted();
    if (this.control.stopping) throw new Stopping();
  }

  async commit(step: string, what: StepCommit): Promise<void> {
    this.goOn();
    const owner = {
      tenantId: this.job.tenantId,
      connectionId: this.job.connectionId,
      vendor: this.connection.vendor,
    };
    // With events on, the page's changes become its transactions.changed event, in the same
    // database transaction: the event exists if and only if the page does.
    const changes = this.deps.outbox !== undefined;
    const store = () =>
      this.deps.sql.begin(async (tx: postgres.TransactionSql) => {
        const upserted = what.page
          ? await transactions.upsertTransactions(tx, owner, what.page.transactions, {
            body: what.page.body,
          })
          : undefined;
        if (what.deleted) await transactions.markDeleted(tx, owner, what.deleted);
        if (what.watermark) {
          await transactions.advanceWatermark(
            tx,
            this.job.connectionId,
            what.watermark.accountId,
            what.watermark.createdUpTo,
          );
        }
        const progress = {
          step,
          finished: what.finished,
          cursor: what.resume,
          pages: what.page ? 1 : 0,
          upserted: upserted?.count ?? 0,
          skipped: what.page?.skipped,
          leaseUntil: new Date(this.deps.now() + this.deps.leaseMs),
        };
        if (!changes) {
          await leases.recordProgress(tx, this.lease, progress);
          return false;
        }
        // Sent together, run in this order: the page's event body first, before the job's row
        // is locked by its progress (the job's other walks wait for that lock, not for the
        // body); the connection's event number last, locked until this commits.
        const [written] = await Promise.all([
          writeChangesEvent(
            tx,
            { ...owner, pullId: this.job.id },
            ROUTING_KEYS.transactionsChanged,
            new Date(this.deps.now()),
          ),
          leases.recordProgress(tx, this.lease, progress),
          numberEvents(tx, this.job.connectionId),
        ]);
        return written;
      });
    // The process's pulls share its page stores: a connection each, and no more than the pool
    // spares besides the requests'.
    const written = await (this.deps.pageStores ? this.deps.pageStores.run(store) : store());
    if (written) this.deps.outbox?.written();
    if (what.page?.skipped?.length) this.reportSkipped(what.page.skipped);
  }

  /** Makes the stored page's skipped rows visible: a warning with their ids, and the metric. */
  reportSkipped(skipped: SkippedTransaction[]): void {
    const vendor = this.connection.vendor;
    const byReason: Partial<Record<SkipReason, number>> = {};
    for (const s of skipped) byReason[s.reason] = (byReason[s.reason] ?? 0) + 1;
    for (const [reason, count] of Object.entries(byReason)) {
      this.deps.observeSkipped?.({ vendor, reason: reason as SkipReason, count });
    }
    this.deps.logger.warn({
      msg: "vendor transactions skipped",
      jobId: this.job.id,
      connectionId: this.job.connectionId,
      vendor,
      skipped: byReason,
      ids: skipped.slice(0, SKIPPED_KEPT).map((s) => s.id),
    });
  }
}
