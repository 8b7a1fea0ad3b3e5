// The in-process pool that claims due pull jobs and runs up to `concurrency` of them at once.
import { errorSummary } from "../lib/error_summary.ts";
import { renewLease } from "./pull_leases.repository.ts";
import { type ClaimedPull, claimPull, hasClaimablePull } from "./pull_queue.repository.ts";
import { createSemaphore } from "../lib/semaphore.ts";
import { PAGE_STORES, type PullOutcome, type PullRunDeps, runPull } from "./run_pull.ts";

/** One finished attempt: how it ended (`crashed` when the run itself threw) and how long it ran. */
export interface PullAttempt {
  outcome: PullOutcome | "crashed";
  seconds: number;
}

/** Told about every finished attempt (the metrics); pulls know nothing of what it does. */
export type PullAttemptObserver = (attempt: PullAttempt) => void;

export interface PullPoolOptions {
  /** Jobs this process runs at once (MATCHER_PULL_CONCURRENCY). */
  concurrency: number;
  /** How often an idle pool looks for due jobs (retries coming due, other replicas' webhooks). */
  pollMs?: number;
  /** Names this pool's leases; unique per process. */
  owner?: string;
  /** Called after each attempt this pool ran. */
  observe?: PullAttemptObserver;
}

export interface PullPool {
  /** Starts polling; `wake` and `drain` work without it (the cron sweep and tests use them). */
  start(): void;
  /** Looks for due jobs now, e.g. right after a webhook queued one. */
  wake(): void;
  /** Claims and runs due jobs until none is due and none is running. */
  drain(): Promise<void>;
  /**
   * Stops claiming and waits for the running jobs: each stops before its next page and is handed
   * back (due at once, the attempt not counted); `{ release: false }` leaves them held, as a
   * crash would, for the sweep to reclaim when their lease runs out.
   */
  stop(options?: { release?: boolean }): Promise<void>;
}

export function createPullPool(given: PullRunDeps, options: PullPoolOptions): PullPool {
  const deps = { ...given, pageStores: given.pageStores ?? createSemaphore(PAGE_STORES) };
  const owner = options.owner ?? `pool-${crypto.randomUUID()}`;
  const active = new Set<Promise<unknown>>();
  const control = { stopping: false, release: true };
  let timer: ReturnType<typeof setInterval> | undefined;
  let filling: Promise<void> | undefined;
  let again = false;
  let claimed = 0;

  /** Claims jobs into free slots until none is due; one filler at a time, re-run if woken. */
  function fill(): Promise<void> {
    if (filling) {
      again = true;
      return filling;
    }
    // Cleared in `finally`, which always runs after this assignment: a round that claims nothing
    // (every slot busy) finishes synchronously, and clearing inside it would come first and leave
    // `filling` set for good, so that no later wake or poll ever claims again.
    filling = claimIntoFreeSlots().finally(() => {
      filling = undefined;
      if (again && !control.stopping) fill(); // woken after the last round looked
    });
    return filling;
  }

  async function claimIntoFreeSlots(): Promise<void> {
    try {
      do {
        again = false;
        while (!control.stopping && active.size < options.concurrency) {
          const now = deps.now();
          const job = await claimPull(
            deps.sql,
            owner,
            new Date(now),
            new Date(now + deps.leaseMs),
          );
          if (!job) break;
          start(job);
        }
      } while (again && !control.stopping);
    } catch (err) {
      deps.logger.error({ msg: "claiming pulls failed", error: errorSummary(err) });
    }
  }

  function start(job: ClaimedPull): void {
    claimed++;
    const lease = { jobId: job.id, owner };
    // Which process took which attempt: with several replicas, the logs show no job taken twice.
    deps.logger.info({
      msg: "pull claimed",
      jobId: job.id,
      connectionId: job.connectionId,
      attempt: job.attempts,
      owner,
    });
    const heartbeat = setInterval(() => {
      renewLease(deps.sql, lease, new Date(deps.now() + deps.leaseMs)).catch(() => {});
    }, Math.max(1_000, deps.leaseMs / 3));
    const started = performance.now();
    const run = runPull(deps, job, lease, control)
      .catch((err): "crashed" => {
        deps.logger.error({ msg: "pull run crashed", jobId: job.id, error: errorSummary(err) });
        return "crashed";
      })
      .then((outcome) => {
        try {
          options.observe?.({ outcome, seconds: (performance.now() - started) / 1000 });
        } catch {
          // An observer's fault must not stop the pool from taking the next job.
        }
      })
      .finally(() => {
        clearInterval(heartbeat);
        active.delete(run);
        if (!control.stopping) fill();
      });
    active.add(run);
  }

  return {
    start() {
      timer ??= setInterval(() => fill(), options.pollMs ?? 1_000);
      fill();
    },
    wake() {
      if (!control.stopping) fill();
    },
    async drain() {
      let before: number;
      do {
        before = claimed;
        await fill();
        while (active.size) await Promise.race(active);
        await filling;
        // Jobs may have come due while these ran. A round that claimed nothing ends the drain,
        // though: a due job it could not claim is locked by another transaction (a replica
        // claiming it, a webhook merging into it), and asking again would only spin.
      } while (
        !control.stopping &&
        (active.size ||
          (claimed > before && (await hasClaimablePull(deps.sql, new Date(deps.now())))))
      );
    },
    async stop(opts = {}) {
      control.stopping = true;
      control.release = opts.release ?? true;
      if (timer !== undefined) clearInterval(timer);
      await filling;
      await Promise.all(active);
    },
  };
}
