// The sweep Deno.cron runs every minute: reclaim expired leases, run every due job, prune history.
import type { Sql } from "../db/pool.ts";
import { deleteExpiredKeys } from "../idempotency/idempotency.repository.ts";
import type { Logger } from "../lib/logger.ts";
import { reclaimExpiredLeases } from "./pull_leases.repository.ts";
import type { PullPool } from "./pull_pool.ts";
import { pruneHistory } from "./retention.repository.ts";

export interface SweepDeps {
  sql: Sql;
  logger: Logger;
  now: () => number;
  maxAttempts: number;
  /** Webhook events and finished pulls older than this are deleted. */
  retentionMs: number;
  pool: PullPool;
}

/** A plain function, so that tests call it with their own clock instead of waiting for cron. */
export async function sweepPulls(
  deps: SweepDeps,
): Promise<{
  reclaimed: number;
  pruned: { webhookEvents: number; pulls: number };
  expiredIdempotencyKeys: number;
}> {
  const reclaimed = await reclaimExpiredLeases(deps.sql, new Date(deps.now()), deps.maxAttempts);
  if (reclaimed) deps.logger.warn({ msg: "reclaimed pulls whose worker stopped", reclaimed });
  await deps.pool.drain();
  const pruned = await pruneHistory(deps.sql, new Date(deps.now() - deps.retentionMs));
  if (pruned.webhookEvents || pruned.pulls) deps.logger.info({ msg: "pruned history", ...pruned });
  // Idempotency keys live 24 hours; an expired one no longer holds anything back.
  const expiredIdempotencyKeys = await deleteExpiredKeys(deps.sql, new Date(deps.now()));
  if (expiredIdempotencyKeys) {
    deps.logger.info({ msg: "deleted expired idempotency keys", count: expiredIdempotencyKeys });
  }
  return { reclaimed, pruned, expiredIdempotencyKeys };
}
