// A feed page costs what it costs on a small history also on a large one: the query walks its
// index from the cursor (no scan, no sort), checked with EXPLAIN (ANALYZE, BUFFERS).
import assert from "node:assert/strict";
import { listChanges } from "../../src/transactions/transactions.repository.ts";
import { createConnection } from "../support/feed.ts";
import { newTenant, startHarness } from "../support/harness.ts";
import { captureQueries, planNodes } from "../support/plans.ts";

Deno.test("a feed page reads as few buffers after 200,000 changes as after 1,000, through its index", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  // The queries listChanges sends, captured with their parameters to be explained as sent.
  const spy = captureQueries(h.databaseUrl);
  try {
    const tenant = newTenant();
    const connectionId = await createConnection(h, tenant, "big");
    const other = newTenant();
    const otherConnection = await createConnection(h, other, "other");

    /** Adds `n` rows in transactions of 2,000, as many page stores would. */
    const grow = async (owner: string, connection: string, n: number, from: number) => {
      for (let done = 0; done < n; done += 2_000) {
        await h.sql`
          insert into transactions (tenant_id, connection_id, vendor, external_id, account_id,
            amount, direction, status, booking_date, raw)
          select ${owner}, ${connection}, 'pluggy', 'tx-' || g, 'acc-' || (g % 7), g, 'credit',
            'posted', '2026-01-01', '{}'
          from generate_series(${from + done}::int, ${
          from + done + Math.min(2_000, n - done) - 1
        }::int) g`;
      }
      await h.sql`analyze transactions`;
    };

    /** Explains the feed's query for a page of 100 after the 100th row from the end. */
    const measure = async (query: { connectionId?: string }) => {
      const [{ xid, seq }] = await h.sql`
        select change_xid::text as xid, change_seq::text as seq from transactions
        where tenant_id = ${tenant} order by change_xid desc, change_seq desc offset 100 limit 1`;
      const pages = [];
      for (const after of [undefined, { xid, seq }]) {
        // The feed shows rows once every transaction older than theirs has ended; another
        // session on the shared server (another suite's) may hold that back for a moment.
        let rows: unknown[] = [];
        for (let tries = 0; rows.length === 0 && tries < 600; tries++) {
          if (tries) await new Promise((r) => setTimeout(r, 50));
          spy.clear();
          rows = await listChanges(spy.sql, tenant, {
            limit: 100,
            after,
            ...query,
          });
        }
        assert.ok(rows.length > 0, "the feed shows the rows within 30 s");
        const plan = await spy.explainLast(h.sql);
        const all = planNodes(plan);
        const types = all.map((n) => n["Node Type"]);
        assert.ok(!types.includes("Seq Scan"), `no sequential scan: ${types}`);
        assert.ok(
          !types.includes("Sort") && !types.includes("Incremental Sort"),
          `no sort: ${types}`,
        );
        const index = all.find((n) => n["Index Name"])?.["Index Name"];
        assert.equal(
          index,
          query.connectionId ? "transactions_changes_by_connection" : "transactions_changes",
        );
        const buffers = (plan["Shared Hit Blocks"] as number) +
          (plan["Shared Read Blocks"] as number);
        pages.push(buffers);
      }
      return pages;
    };

    await grow(tenant, connectionId, 1_000, 0);
    await grow(other, otherConnection, 1_000, 0);
    const small = [await measure({}), await measure({ connectionId })].flat();
    await grow(tenant, connectionId, 199_000, 1_000);
    await grow(other, otherConnection, 50_000, 1_000);
    const large = [await measure({}), await measure({ connectionId })].flat();
    console.log(
      `buffers per page of 100: ${small.join(", ")} at 1,000; ${large.join(", ")} at 200,000`,
    );
    for (const [i, n] of large.entries()) {
      // One or two more index levels at most; a scan would read thousands of pages.
      assert.ok(n <= small[i] + 6, `page ${i}: ${n} buffers at 200,000 vs ${small[i]} at 1,000`);
    }
  } finally {
    await spy.end();
    await h.close();
  }
});
