// Readiness: whether the database and KV answer, which decides if this replica takes traffic.
import { pingDatabase, type Sql } from "../db/pool.ts";
import { AppError } from "../lib/app_error.ts";

export interface OpsDeps {
  sql: Sql;
  kv: Deno.Kv;
  /** Present when events are on: reported, never a reason to be unready (the outbox waits). */
  broker?: { readonly connected: boolean };
}

async function pingKv(kv: Deno.Kv): Promise<boolean> {
  try {
    await kv.get(["ready"]);
    return true;
  } catch {
    return false;
  }
}

/** Both stores answer; otherwise an `unavailable` error naming what does not. */
export async function checkReadiness(deps: OpsDeps) {
  const [database, kv] = await Promise.all([pingDatabase(deps.sql), pingKv(deps.kv)]);
  if (!database || !kv) {
    const down = [database ? [] : ["database"], kv ? [] : ["kv"]].flat().join(" and ");
    throw new AppError("unavailable", `Not ready: ${down} unavailable.`, { retryAfterSeconds: 5 });
  }
  const checks = { database: "ok" as const, kv: "ok" as const };
  if (!deps.broker) return { status: "ready" as const, checks };
  const broker = deps.broker.connected ? "ok" as const : "degraded" as const;
  return { status: "ready" as const, checks: { ...checks, broker } };
}
