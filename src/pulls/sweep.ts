// The sweep Deno.cron runs every minute: reclaim expired leases, run every due job, prune history.
import type { Sql } from "../db/pool.ts";
import { deleteExpiredKeys } from "../idempotency/idempotency.repository.ts";
import type { Logger } from "../lib/logger.ts";
import { pullEnded } from "../events/event_bodies.ts";
import { appendEvents } from "../events/events.repository.ts";
import type { Outbox } from "../events/outbox.ts";
import { reclaimExpired, reclaimExpiredLeases } from "./pull_leases.repository.ts";
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
  /** Present when events are on: pulls the sweep declares dead get their pull.failed event. */
  outbox?: Outbox;
  /** Deletes the events published before the retention, when events are on. */
  pruneEvents?: (before: Date) => Promise<number>;
}

/** A plain function, so that tests call it with their own clock instead of waiting for cron. */
export async function sweepPulls(
  deps: SweepDeps,
): Promise<{
  reclaimed: number;
  pruned: { webhookEvents: number; pulls: number };
  expiredIdempotencyKeys: number;
}> {
  const reclaimed = deps.outbox
    ? await reclaimWithEvents(deps, deps.outbox)
    : await reclaimExpiredLeases(deps.sql, new Date(deps.now()), deps.maxAttempts);
  if (reclaimed) deps.logger.warn({ msg: "reclaimed pulls whose worker stopped", reclaimed });
  await deps.pool.drain();
  const before = new Date(deps.now() - deps.retentionMs);
  const pruned = await pruneHistory(deps.sql, before);
  if (pruned.webhookEvents || pruned.pulls) deps.logger.info({ msg: "pruned history", ...pruned });
  const events = await deps.pruneEvents?.(before);
  if (events) deps.logger.info({ msg: "pruned published events", events });
  // Idempotency keys live 24 hours; an expired one no longer holds anything back.
  const expiredIdempotencyKeys = await deleteExpiredKeys(deps.sql, new Date(deps.now()));
  if (expiredIdempotencyKeys) {
    deps.logger.info({ msg: "deleted expired idempotency keys", count: expiredIdempotencyKeys });
  }
  return { reclaimed, pruned, expiredIdempotencyKeys };
}

/** Reclaims in one transaction with the pull.failed events of the pulls it declares dead. */
async function reclaimWithEvents(deps: SweepDeps, outbox: Outbox): Promise<number> {
  const now = new Date(deps.now());
  let dead = 0;
  const reclaimed = await deps.sql.begin(async (tx) => {
    const pulls = await reclaimExpired(tx, now, deps.maxAttempts);
    // Connection by connection in id order: each appends under its connection's head row lock.
    const ended = pulls.filter((p) => p.status === "dead")
      .sort((a, b) => a.connectionId < b.connectionId ? -1 : 1);
    for (const pull of ended) await appendEvents(tx, pull, [pullEnded(pull, now)]);
    dead = ended.length;
    return pulls.length;
  });
  if (dead) outbox.written();
  return reclaimed;
}
