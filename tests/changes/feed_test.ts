// The change feed over HTTP after real pulls: first stores, changes, unchanged fetches, vendor
// deletions and a connection delete, each as the feed shows it; and its 400s and 401.
import assert from "node:assert/strict";
import { catchUp, catchUpUntil, FeedCopy, feedGet } from "../support/feed.ts";
import { newTenant } from "../support/harness.ts";
import { deliver, wirePluggy } from "../support/pulls.ts";
import { waitFor } from "../support/service.ts";
import type { Json } from "../support/vendor_calls.ts";

async function settle(w: { pull(id: string): Promise<Json> }, pullId: string) {
  await waitFor(`pull ${pullId}`, async () => (await w.pull(pullId)).status === "succeeded");
}

Deno.test("the feed shows each stored change once, in its latest state, and deletions as tombstones", async () => {
  const w = await wirePluggy({ pageSize: 7 });
  try {
    const get = feedGet(w.h, w.tenant);
    const follower = new FeedCopy();
    const item = w.accountRef;
    const account = w.fake.items[0].accounts[0].id;
    const vendorIds = () =>
      w.fake.items[0].accounts.flatMap((a) => w.fake.transactions(a.id).map((t) => t.id)).sort();
    const followerIds = () => [...follower.live.values()].map((t) => t.externalId).sort();

    const first = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: item }));
    await settle(w, first.body.pullId);
    const firstItems = await catchUpUntil(
      get,
      follower,
      () => followerIds().join() === vendorIds().join(),
      { limit: 10 },
    );
    assert.deepEqual(followerIds(), vendorIds());
    assert.ok(firstItems.every((i) => i.change === "upserted"));
    assert.deepEqual(
      [...follower.live.values()].sort((a, b) => a.id < b.id ? -1 : 1),
      (await w.transactions()).sort((a, b) => a.id < b.id ? -1 : 1),
      "the feed's transactions are the list's",
    );

    // Changed at the vendor: exactly those come again, with their new values.
    const changed = w.fake.transactions(account).slice(0, 3).map((t) => t.id);
    const revised = w.fake.updateTransactions(changed);
    const update = await deliver(
      w,
      w.fake.webhooks.transactionsUpdated({
        itemId: item,
        accountId: account,
        transactionIds: changed,
      }),
    );
    await settle(w, update.body.pullId);
    const updates = await catchUpUntil(get, follower, (c) => c.applied === firstItems.length + 3);
    assert.deepEqual(updates.map((i) => i.externalId).sort(), [...changed].sort());
    for (const t of revised) {
      const got = updates.find((i) => i.externalId === t.id)!;
      assert.equal(got.transaction?.description, t.description);
    }

    // Fetched again unchanged: no change at all.
    const again = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: item }));
    await settle(w, again.body.pullId);
    assert.equal((await w.pull(again.body.pullId)).transactionsUpserted, 0);
    assert.deepEqual(await catchUp(get, follower), []);

    // Deleted at the vendor: a tombstone each, with ids and no transaction.
    const gone = w.fake.transactions(account).slice(3, 5).map((t) => t.id);
    w.fake.deleteTransactions(gone);
    const deletion = await deliver(
      w,
      w.fake.webhooks.transactionsDeleted({
        itemId: item,
        accountId: account,
        transactionIds: gone,
      }),
    );
    await settle(w, deletion.body.pullId);
    const tombstones = await catchUpUntil(
      get,
      follower,
      () => followerIds().join() === vendorIds().join(),
    );
    assert.deepEqual(
      tombstones.map((i) => [i.change, i.externalId, i.transaction]).sort(),
      [
        ...gone.map((id) => ["deleted", id, null]),
      ].sort(),
    );
    assert.deepEqual(followerIds(), vendorIds());

    // From the start: every row once (compacted), and the same live set.
    const fresh = new FeedCopy();
    const all = await catchUp(get, fresh, { limit: 13 });
    assert.equal(all.length, new Set(all.map((i) => i.id)).size, "each row once");
    assert.deepEqual([...fresh.live.keys()].sort(), [...follower.live.keys()].sort());

    // Another tenant sees none of it.
    const stranger = await catchUp(feedGet(w.h, newTenant()), new FeedCopy());
    assert.deepEqual(stranger, []);

    // The connection deleted: every live row becomes a tombstone, in its connection's feed too.
    const res = await w.h.request(`/v1/discovery/aggregator-connections/${w.connectionId}`, {
      method: "DELETE",
      tenant: w.tenant,
    });
    assert.equal(res.status, 204);
    const before = follower.live.size;
    const dropped = await catchUpUntil(get, follower, (c) => c.live.size === 0);
    assert.equal(dropped.length, before);
    assert.ok(dropped.every((i) => i.change === "deleted" && i.connectionId === w.connectionId));
    assert.equal(follower.live.size, 0);
    const own = new FeedCopy();
    await catchUp(get, own, { connectionId: w.connectionId });
    assert.equal(own.live.size, 0);
    assert.equal(own.applied, all.length, "a deleted connection's feed still lists its rows");
  } finally {
    await w.close();
  }
});

Deno.test("the feed refuses a bad limit, cursor or connection id with a 400, and no token with a 401", async () => {
  const w = await wirePluggy();
  try {
    const b64 = (s: string) =>
      new TextEncoder().encode(s).toBase64({ alphabet: "base64url", omitPadding: true });
    for (
      const [query, field] of [
        ["limit=0", "limit"],
        ["limit=201", "limit"],
        ["limit=ten", "limit"],
        ["after=junk!", "after"],
        [`after=${b64(JSON.stringify({ x: "1", s: "-2" }))}`, "after"],
        ["connectionId=not-a-uuid", "connectionId"],
      ]
    ) {
      const body = await w.get(`/v1/discovery/transactions/changes?${query}`, 400);
      assert.match(body.code, /^MTCH-100[12]$/);
      assert.equal(body.details?.fields?.[0]?.field, field, query);
    }
    // A cursor of another list is not a feed cursor (the pagination code, as for every list).
    const listCursor = b64(JSON.stringify({ t: new Date().toISOString(), i: crypto.randomUUID() }));
    const wrong = await w.get(`/v1/discovery/transactions/changes?after=${listCursor}`, 400);
    assert.equal(wrong.code, "MTCH-1002");
    const anonymous = await w.h.request("/v1/discovery/transactions/changes");
    assert.equal(anonymous.status, 401);
    assert.equal((await anonymous.json()).code, "MTCH-1401");
  } finally {
    await w.close();
  }
});
