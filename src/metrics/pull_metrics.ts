// The pull metrics: attempts by outcome and their durations, and the job queue as Postgres holds it.
import type { Sql } from "../db/pool.ts";
import { PULL_STATUSES, readPullStats } from "../pulls/pull_stats.repository.ts";
import type { PullAttempt, PullAttemptObserver } from "../pulls/pull_pool.ts";
import type { MetricsRegistry } from "./registry.ts";

/** Every outcome an attempt can have, shown from the start so that alerts see zeros. */
const OUTCOMES: readonly PullAttempt["outcome"][] = [
  "succeeded",
  "retrying",
  "failed",
  "dead",
  "released",
  "abandoned",
  "lost",
  "crashed",
];

/** A pull takes from a second (nothing new) to an hour (a first pull of a long history). */
const PULL_DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600];

/** Postgres gives up on the queue queries after this long, so a scrape never leaves one behind. */
const QUEUE_QUERY_TIMEOUT_MS = 5_000;

export interface PullMetricsDeps {
  sql: Sql;
  /** The clock pulls are scheduled by (tests move it). */
  now: () => number;
}

/**
 * Declares `matcher_pull_attempts_total{outcome}` and `matcher_pull_duration_seconds{outcome}`,
 * fed by the observer this answers (hand it to the worker pool), and the gauges
 * `matcher_pull_jobs{status}` and `matcher_pull_oldest_due_lag_seconds`, read from Postgres by a
 * refresher before each scrape. The gauges count every tenant's jobs: with several replicas on one
 * database, each shows the same numbers (take `max`, not `sum`, across them).
 */
export function pullMetrics(registry: MetricsRegistry, deps: PullMetricsDeps): PullAttemptObserver {
  const attempts = registry.counter({
    name: "matcher_pull_attempts_total",
    help: "Finished pull attempts of this process, by outcome.",
    labelNames: ["outcome"],
  });
  const duration = registry.histogram({
    name: "matcher_pull_duration_seconds",
    help: "Time a pull attempt ran, from its claim to its outcome, by outcome.",
    labelNames: ["outcome"],
    buckets: PULL_DURATION_BUCKETS,
  });
  const jobs = registry.gauge({
    name: "matcher_pull_jobs",
    help: "Pull jobs of every tenant in each status now (from the database).",
    labelNames: ["status"],
  });
  const lag = registry.gauge({
    name: "matcher_pull_oldest_due_lag_seconds",
    help: "How long the oldest pull job that a worker could claim now has waited, in seconds.",
  });
  for (const outcome of OUTCOMES) attempts.inc({ outcome }, 0);

  registry.refresher("pull_jobs", async () => {
    // Both read before either is set, so a failed read leaves every value as it was.
    const stats = await readPullStats(deps.sql, new Date(deps.now()), QUEUE_QUERY_TIMEOUT_MS);
    for (const status of PULL_STATUSES) jobs.set({ status }, stats.counts[status]);
    lag.set({}, stats.oldestDueLagSeconds);
  });

  return function observePullAttempt({ outcome, seconds }) {
    attempts.inc({ outcome });
    duration.observe({ outcome }, seconds);
  };
}
