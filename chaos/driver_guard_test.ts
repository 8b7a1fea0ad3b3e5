// The postgres.js pool under Postgres restarts and stops, with the service's crash guard: the
// process lives on (without the guard, postgres.js 3.4.9 throws from a queued write and ends it).
import assert from "node:assert/strict";
import { guardDriverCrash } from "../src/db/driver_guard.ts";
import { createPool } from "../src/db/pool.ts";
import { jsonLogger } from "../src/lib/logger.ts";
import { createPrivateCluster } from "../tests/support/pg_cluster.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "the pool survives Postgres restarts mid-transaction and answers again afterwards",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const logs: string[] = [];
    const unguard = guardDriverCrash(jsonLogger((line) => logs.push(line)));
    const cluster = await createPrivateCluster();
    const sql = createPool(cluster.url);
    let running = true;
    const errors = new Map<string, number>();
    try {
      await sql`create table chaos (id serial primary key, v text)`;
      // Small transactions and reads on every connection of the pool, as the service makes.
      const loops = Array.from({ length: 8 }, async (_, i) => {
        for (let n = 0; running && n < 100_000; n++) {
          try {
            if (i % 2) {
              await sql.begin(async (tx) => {
                await tx`insert into chaos (v) values ('x')`;
                await tx`select pg_sleep(0.02)`;
              });
            } else await sql`select count(*) from chaos, pg_sleep(0.01)`;
          } catch (err) {
            const code = (err as { code?: string }).code ?? "none";
            errors.set(code, (errors.get(code) ?? 0) + 1);
            await sleep(10);
          }
        }
      });
      for (let round = 0; round < 1; round++) {
        await sleep(1_000);
        await cluster.ctl("restart");
        await sleep(1_000);
        await cluster.ctl("stop");
        await sleep(2_000);
        await cluster.ctl("start");
      }
      await sleep(1_000);
      running = false;
      await Promise.all(loops);
      const [{ n }] = await sql`select count(*)::int as n from chaos`;
      assert.ok(n > 0, "the pool answers after the outages");
      console.log(
        `errors by code: ${JSON.stringify(Object.fromEntries(errors))}; ` +
          `crashes stopped by the guard: ${logs.length}`,
      );
    } finally {
      running = false;
      unguard();
      await sql.end({ timeout: 1 }).catch(() => {});
      await cluster.drop();
    }
  },
});
