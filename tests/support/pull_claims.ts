// Reading pull claims back: the service's "pull claimed" log lines and the jobs still to run.
import type postgres from "postgres";
import { jsonLines } from "./replica_burst.ts";

export interface Claim {
  jobId: string;
  owner: string;
  attempt: number;
}

/** The "pull claimed" lines of a process's log. */
export function claimsIn(lines: string[]): Claim[] {
  return jsonLines(lines).filter((l) => l.msg === "pull claimed") as unknown as Claim[];
}

/**
 * Waits until no pull is queued, running or retrying; meanwhile notes in `holders` the lease
 * owners seen on each running job. Fails with the jobs' states after `timeoutMs` (a safety net).
 */
export async function waitForPulls(
  sql: postgres.Sql,
  holders: Map<string, Set<string>>,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await sql`select id, status, lease_owner from pull_jobs
                           where status in ('queued', 'running', 'retrying')`;
    for (const j of open.filter((j) => j.status === "running")) {
      holders.set(j.id, (holders.get(j.id) ?? new Set()).add(j.lease_owner));
    }
    if (open.length === 0) return;
    if (Date.now() > deadline) {
      const states = await sql`select status, attempts, last_error, count(*)::int as n
                               from pull_jobs group by 1, 2, 3`;
      throw new Error(`pulls still unfinished: ${JSON.stringify(states)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
