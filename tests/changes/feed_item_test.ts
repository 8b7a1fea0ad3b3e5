// A feed item, which Postgres writes (transaction_change), is the stored transaction exactly as the
// transactions API shows it: every field, null ones, text that JSON must escape, UTC times with
// milliseconds, and a cursor that reads back as the row's feed position.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { decodeFeedCursor } from "../../src/changes/feed_cursor.ts";
import { markDeleted, upsertTransactions } from "../../src/transactions/transactions.repository.ts";
import { pluggyOwner, vendorTransaction as vt } from "../support/feed.ts";
import { newTenant, startHarness } from "../support/harness.ts";
import { waitFor } from "../support/service.ts";
import type { Json } from "../support/vendor_calls.ts";

Deno.test("a feed item is the stored transaction as the transactions API shows it", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  try {
    const tenant = newTenant();
    const owner = await pluggyOwner(h, tenant, "items");
    await h.sql.begin(async (tx: postgres.TransactionSql) => {
      await upsertTransactions(tx, owner, [
        vt("plain", "10.50"),
        vt("bare", "-0.01", { currency: null, description: null, createdAt: null }),
        vt("escaped", "1234567.89", {
          description: 'quote " backslash \\ newline \n tab \t bell \u0007 é 💸 \u2028',
          accountId: 'acc "2"',
          createdAt: "2026-03-01T23:59:59Z",
        }),
        vt("precise", "5", { createdAt: "2026-02-03T04:05:06.789123Z" }),
        vt("gone", "7.00"),
      ]);
    });
    await h.sql.begin((tx: postgres.TransactionSql) => markDeleted(tx, owner, ["gone"]));

    // The feed shows the changes once every transaction that began before them on the database
    // server (other suites' too) has ended.
    const items = await waitFor("the five changes in the feed", async () => {
      const feed = await h.request("/v1/discovery/transactions/changes?limit=100", { tenant });
      assert.equal(feed.status, 200);
      const items = (await feed.json()).items as Json[];
      return items.length === 5 && items;
    });
    const list = await h.request(
      `/v1/discovery/aggregator-connections/${owner.connectionId}/transactions?limit=100`,
      { tenant },
    );
    assert.equal(list.status, 200);
    const shown = new Map(
      ((await list.json()).items as Json[]).map((t) => [t.externalId as string, t]),
    );
    const positions = new Map(
      (await h.sql`
        select external_id, change_xid::text as xid, change_seq::text as seq from transactions
        where connection_id = ${owner.connectionId}`).map((r) => [r.external_id, r]),
    );

    // In feed order: the page's rows as it wrote them (by vendor id), then the deletion.
    assert.deepEqual(items.map((i) => i.externalId), [
      "bare",
      "escaped",
      "plain",
      "precise",
      "gone",
    ]);
    for (const item of items) {
      const position = positions.get(item.externalId)!;
      assert.deepEqual(decodeFeedCursor(item.cursor as string), {
        xid: position.xid,
        seq: position.seq,
      });
      assert.equal(item.connectionId, owner.connectionId);
      assert.equal(item.vendor, "pluggy");
      if (item.externalId === "gone") {
        assert.equal(item.change, "deleted");
        assert.equal(item.transaction, null);
        assert.match(item.changedAt as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        continue;
      }
      const transaction = shown.get(item.externalId as string)!;
      assert.equal(item.change, "upserted");
      assert.equal(item.id, transaction.id);
      assert.equal(item.changedAt, transaction.updatedAt);
      assert.deepEqual(item.transaction, transaction, `the feed's ${item.externalId}`);
    }
    const byId = new Map(items.map((i) => [i.externalId, i.transaction as Json]));
    assert.equal(byId.get("bare")!.currency, null);
    assert.equal(byId.get("bare")!.description, null);
    assert.equal(byId.get("bare")!.vendorCreatedAt, null);
    assert.equal(byId.get("escaped")!.vendorCreatedAt, "2026-03-01T23:59:59.000Z");
    assert.equal(byId.get("precise")!.vendorCreatedAt, "2026-02-03T04:05:06.789Z");
    assert.equal(
      byId.get("escaped")!.description,
      'quote " backslash \\ newline \n tab \t bell \u0007 é 💸 \u2028',
    );
  } finally {
    await h.close();
  }
});
