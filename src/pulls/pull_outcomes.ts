// How a pull attempt ends: succeeded, failed or dead, retried later, handed back, or lost.
import { SealError } from "../crypto/seal.ts";
import type { Sql } from "../db/pool.ts";
import { errorSummary } from "../lib/error_summary.ts";
import type { Logger } from "../lib/logger.ts";
import { pullEnded } from "../events/event_bodies.ts";
import { appendEvents } from "../events/events.repository.ts";
import type { Outbox } from "../events/outbox.ts";
import { VendorError, type VendorErrorDetails } from "../vendors/errors.ts";
import { PageWalkError } from "../vendors/page_walk.ts";
import { retryDelayMs } from "./backoff.ts";
import * as leases from "./pull_leases.repository.ts";
import type { PullError, PullRow, PullStatus } from "./pulls.repository.ts";

/**
 * How an attempt ended: the status it left the job in (`succeeded`, `retrying`, `failed`, `dead`),
 * `released` (handed back at shutdown), `abandoned` (left held by a stop without release) or
 * `lost` (another worker or a delete took the job first).
 */
export type PullOutcome =
  | Exclude<PullStatus, "queued" | "running">
  | "released"
  | "abandoned"
  | "lost";

/** What an outcome needs: the job as claimed, its lease, and the pieces that record the end. */
export interface Attempt {
  job: PullRow;
  lease: leases.Lease;
  deps: {
    sql: Sql;
    logger: Logger;
    now: () => number;
    maxAttempts: number;
    random?: () => number;
    /** Present when events are on: the pull's end appends its event in the same transaction. */
    outbox?: Outbox;
  };
}

/** Ends the job `succeeded`. */
export async function succeed(attempt: Attempt): Promise<PullOutcome> {
  const { deps } = attempt;
  const done = await endPull(attempt, { status: "succeeded", now: new Date(deps.now()) });
  if (!done) return lost(attempt);
  deps.logger.info({ msg: "pull succeeded", ...logFields(attempt) });
  return "succeeded";
}

/** Hands the job back at shutdown, due at once, the attempt not counted. */
export async function release(attempt: Attempt): Promise<PullOutcome> {
  const { deps, lease } = attempt;
  const released = await leases.releasePull(deps.sql, lease, { now: new Date(deps.now()) });
  return released ? "released" : lost(attempt);
}

/**
 * Sorts a failure: the tenant or the vendor must fix it (failed at once: rejected credentials, a
 * missing account, a permanent fault such as a redirect or a next link off the connection's
 * origin, a walk of pages that would never end), or it may pass (retried, then dead).
 */
export function handleFailure(attempt: Attempt, err: unknown): Promise<PullOutcome> {
  if (err instanceof VendorError) {
    const error = { reason: err.reason, message: err.message };
    if (!err.retryable) return fail(attempt, { status: "failed", error, details: err.details });
    return retryOrDie(attempt, { error, details: err.details });
  }
  if (err instanceof PageWalkError) {
    return fail(attempt, { status: "failed", error: { reason: err.reason, message: err.message } });
  }
  if (err instanceof SealError) {
    return fail(attempt, {
      status: "failed",
      error: {
        reason: "credential_unreadable",
        message: "the stored credential cannot be opened with the configured seal keys",
      },
    });
  }
  // Anything else (the database going away, a bug) may pass; its code only: errors from
  // postgres.js carry query parameters.
  const { code } = errorSummary(err);
  return retryOrDie(attempt, {
    error: {
      reason: "internal_error",
      message: `the pull stopped on an internal error${code ? ` (${code})` : ""}`,
    },
  });
}

/** Retries after the backoff (never before the vendor's Retry-After), or dead past the last. */
async function retryOrDie(
  attempt: Attempt,
  failure: { error: PullError; details?: VendorErrorDetails },
): Promise<PullOutcome> {
  const { deps, job, lease } = attempt;
  if (job.attempts >= deps.maxAttempts) return fail(attempt, { status: "dead", ...failure });
  const delay = retryDelayMs(job.attempts, failure.details?.retryAfterMs, deps.random);
  const at = new Date(deps.now() + delay);
  if (!(await leases.retryPull(deps.sql, lease, { at, error: failure.error }))) {
    return lost(attempt);
  }
  deps.logger.warn({
    msg: "pull failed; will retry",
    ...logFields(attempt),
    retryAt: at.toISOString(),
    error: { ...failure.error, ...failure.details },
  });
  return "retrying";
}

/** Ends the job `failed` or `dead` with its error. */
export async function fail(
  attempt: Attempt,
  failure: { status: "failed" | "dead"; error: PullError; details?: VendorErrorDetails },
): Promise<PullOutcome> {
  const { deps } = attempt;
  const { status, error } = failure;
  const ended = await endPull(attempt, { status, error, now: new Date(deps.now()) });
  if (!ended) return lost(attempt);
  deps.logger.warn({
    msg: `pull ${status}`,
    ...logFields(attempt),
    error: { ...error, ...failure.details },
  });
  return status;
}

/**
 * Ends the job; with events on, in one transaction with its pull.completed or pull.failed event.
 * False when the lease was lost.
 */
async function endPull(
  attempt: Attempt,
  outcome: Parameters<typeof leases.finishPull>[2],
): Promise<boolean> {
  const { deps, lease } = attempt;
  const outbox = deps.outbox;
  if (!outbox) return (await leases.finishPull(deps.sql, lease, outcome)) !== undefined;
  const ended = await deps.sql.begin(async (tx) => {
    const pull = await leases.finishPull(tx, lease, outcome);
    if (pull) await appendEvents(tx, pull, [pullEnded(pull, outcome.now)]);
    return pull;
  });
  if (ended) outbox.written();
  return ended !== undefined;
}

/** The job is no longer this worker's: the sweep or another worker took it, or it was cancelled. */
export function lost(attempt: Attempt): "lost" {
  attempt.deps.logger.warn({ msg: "pull lease lost", ...logFields(attempt) });
  return "lost";
}

function logFields({ job }: Attempt) {
  return { jobId: job.id, connectionId: job.connectionId, attempt: job.attempts };
}
