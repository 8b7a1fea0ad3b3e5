// The feed never skips a change: a writer that began first and commits last is still seen by a
// reader who followed the feed while a later writer's change was already committed.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { upsertTransactions } from "../../src/transactions/transactions.repository.ts";
import {
  catchUp,
  FeedCopy,
  feedGet,
  pluggyOwner,
  vendorTransaction as vt,
} from "../support/feed.ts";
import { newTenant, startHarness } from "../support/harness.ts";
import { waitFor } from "../support/service.ts";

const externalIds = (copy: FeedCopy) => [...copy.live.values()].map((t) => t.externalId).sort();

Deno.test("a writer that began first and commits last is not skipped by a reader who followed the feed", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  try {
    const tenant = newTenant();
    const a = await pluggyOwner(h, tenant, "conn-a");
    const b = await pluggyOwner(h, tenant, "conn-b");
    const get = feedGet(h, tenant);
    const reader = new FeedCopy();

    // Writer 1 writes first (so it holds the older transaction id) and stays open.
    const written = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const writer1 = h.sql.begin(async (tx: postgres.TransactionSql) => {
      await upsertTransactions(tx, a, [vt("a-1", "10.00"), vt("a-2", "-11.50")]);
      written.resolve();
      await release.promise;
    });
    writer1.catch(() => {}); // awaited below; a failed assertion before must not leave it unhandled
    await written.promise;
    // Writer 2 begins later, writes and commits while writer 1 is still open.
    await h.sql.begin((tx: postgres.TransactionSql) =>
      upsertTransactions(tx, b, [vt("b-1", "20.00")])
    );

    // The reader follows the feed meanwhile: writer 2's change is committed, but showing it would
    // move the reader's cursor past writer 1's older position before writer 1 commits.
    for (let i = 0; i < 5; i++) {
      await catchUp(get, reader);
      assert.deepEqual(externalIds(reader), [], "no change above an open writer is shown");
      await new Promise((r) => setTimeout(r, 20));
    }
    const before = reader.cursor;

    release.resolve();
    await writer1;
    const [order] = await h.sql`
      select (select change_xid from transactions where external_id = 'a-1')
        < (select change_xid from transactions where external_id = 'b-1') as first_is_older`;
    assert.equal(order.first_is_older, true, "writer 1, committed last, holds the older position");
    // Other databases on this server may hold the horizon back a little: the feed lags, never skips.
    await waitFor("both writers' changes in the reader's copy", async () => {
      await catchUp(get, reader);
      return externalIds(reader).length === 3;
    }, { timeoutMs: 60_000 });
    assert.deepEqual(externalIds(reader), ["a-1", "a-2", "b-1"]);
    const byExternal = new Map([...reader.live.values()].map((t) => [t.externalId, t]));
    assert.equal(byExternal.get("a-1")?.amount, "10.00");
    assert.equal(byExternal.get("a-2")?.amount, "-11.50");
    assert.equal(byExternal.get("b-1")?.amount, "20.00");
    assert.notEqual(reader.cursor, before);
  } finally {
    await h.close().catch(() => {});
  }
});
