// The retry sweep Deno.cron runs every minute: reclaim expired leases, then run every due job.
import type { Sql } from "../db/pool.ts";
import type { Logger } from "../http/logger.ts";
import { reclaimExpiredLeases } from "./pulls.repository.ts";
import type { PullPool } from "./worker.ts";

export interface SweepDeps {
  sql: Sql;
  logger: Logger;
  now: () => number;
  maxAttempts: number;
  pool: PullPool;
}

/** A plain function, so that tests call it with their own clock instead of waiting for cron. */
export async function sweepPulls(deps: SweepDeps): Promise<{ reclaimed: number }> {
  const reclaimed = await reclaimExpiredLeases(deps.sql, new Date(deps.now()), deps.maxAttempts);
  if (reclaimed) deps.logger.warn({ msg: "reclaimed pulls whose worker stopped", reclaimed });
  await deps.pool.drain();
  return { reclaimed };
}
