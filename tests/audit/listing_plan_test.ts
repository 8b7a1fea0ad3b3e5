// An audit trail page costs the same on a long trail as on a short one, filtered or not: each form
// of the listing's query walks its own index from the cursor (no scan, no sort), checked with
// EXPLAIN (ANALYZE, BUFFERS) on the query exactly as the repository sends it.
import assert from "node:assert/strict";
import { type AuditFilter, listAuditRecords } from "../../src/audit/audit.repository.ts";
import { newTenant, startHarness } from "../support/harness.ts";
import { captureQueries, planNodes } from "../support/plans.ts";

const ACTIONS = [
  "connection.created",
  "connection.updated",
  "connection.deleted",
  "connection.tested",
  "webhook_token.minted",
  "webhook_token.revoked",
  "pull.requested",
  "pull.retried",
];

Deno.test("an audit page reads as few buffers after 200,000 records as after 10,000, through its index", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  const spy = captureQueries(h.databaseUrl);
  try {
    const tenant = newTenant();
    const other = newTenant();
    const target = crypto.randomUUID();
    /** `n` records of `owner`, one a second, over 8 actions and 50 targets (one of them `target`). */
    const grow = async (owner: string, n: number, from: number) => {
      await h.sql`
        insert into audit_events (id, tenant_id, action, target_type, target_id, connection_id,
          actor_subject, actor_issuer, request_id, occurred_at, details)
        select gen_random_uuid(), ${owner}, (${ACTIONS}::text[])[1 + g % 8], 'connection',
          case when g % 50 = 0 then ${target}::uuid else gen_random_uuid() end,
          gen_random_uuid(), 'sub', 'iss', 'req-' || g,
          timestamptz '2026-01-01' + g * interval '1 second', '{}'
        from generate_series(${from}::int, ${from + n - 1}::int) g`;
      await h.sql`analyze audit_events`;
    };
    const forms: Array<{ filter: AuditFilter; index: string }> = [
      { filter: {}, index: "audit_events_by_time" },
      { filter: { targetId: target }, index: "audit_events_by_target" },
      { filter: { action: "pull.retried" }, index: "audit_events_by_action" },
    ];
    /** Buffers of a first page and of a page after the 100th record, of each form. */
    const measure = async () => {
      const buffers: number[] = [];
      for (const { filter, index } of forms) {
        const all = await listAuditRecords(h.sql, tenant, 200, filter);
        assert.ok(all.length > 100, "records to page through");
        for (const after of [undefined, { createdAt: all[99].occurredAt, id: all[99].id }]) {
          spy.clear();
          const page = await listAuditRecords(
            spy.sql,
            tenant,
            20,
            filter,
            after,
          );
          assert.equal(page.length, 21);
          const plan = await spy.explainLast(h.sql);
          const types = planNodes(plan).map((n) => n["Node Type"]);
          assert.ok(!types.includes("Seq Scan"), `no sequential scan: ${types}`);
          assert.ok(!types.some((t) => t.includes("Sort")), `no sort: ${types}`);
          assert.equal(planNodes(plan).find((n) => n["Index Name"])?.["Index Name"], index);
          buffers.push(
            (plan["Shared Hit Blocks"] as number) + (plan["Shared Read Blocks"] as number),
          );
        }
      }
      return buffers;
    };

    await grow(tenant, 10_000, 0);
    await grow(other, 2_000, 0);
    const small = await measure();
    await grow(tenant, 190_000, 10_000);
    await grow(other, 50_000, 2_000);
    const large = await measure();
    console.log(
      `buffers per page of 20: ${small.join(", ")} at 10,000; ${large.join(", ")} at 200,000`,
    );
    for (const [i, n] of large.entries()) {
      // An index level more at most; a scan of the tenant's records would read thousands.
      assert.ok(n <= small[i] + 6, `page ${i}: ${n} buffers at 200,000 vs ${small[i]} at 10,000`);
    }
  } finally {
    await spy.end();
    await h.close();
  }
});
