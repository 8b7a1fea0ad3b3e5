// The queued pull a connection's triggers merge into: what a merge keeps, what it costs, and the
// walk of a whole account that takes over from too many ids to fetch again.
import assert from "node:assert/strict";
import type { Sql } from "../../src/db/pool.ts";
import { enqueuePull } from "../../src/pulls/pull_queue.repository.ts";
import { deliver, wirePluggy } from "../support/pulls.ts";

/** The queued pull's row as stored, its items, and the row's version (`xmin`: a write bumps it). */
async function queued(sql: Sql, connectionId: string) {
  const [row] = await sql<
    { id: string; work: Record<string, unknown>; version: string; work_bytes: number }[]
  >`
    select id, work, xmin::text as version, pg_column_size(work) as work_bytes
    from pull_jobs where connection_id = ${connectionId} and status = 'queued'`;
  const items = await sql`
    select kind, account_id, external_id from pull_job_items where pull_id = ${row.id}
    order by kind, account_id, external_id`;
  return { ...row, items: items.map((i) => `${i.kind}:${i.account_id}:${i.external_id}`) };
}

Deno.test("a merge syncs if either does, keeps the earlier created-from and unites the ids", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const job = {
      tenantId: w.tenant,
      connectionId: w.connectionId,
      trigger: "manual" as const,
      now: new Date(),
      idsPerAccount: 1_000,
    };
    const first = await enqueuePull(w.h.sql, {
      ...job,
      work: {
        createdFrom: { a: "2026-01-02T00:00:00.000Z" },
        ids: { a: ["1", "2"] },
        deleted: ["x"],
      },
    });
    const second = await enqueuePull(w.h.sql, {
      ...job,
      work: {
        sync: true,
        createdFrom: { a: "2026-01-01T00:00:00.000Z", b: "2026-03-01T00:00:00.000Z" },
        ids: { a: ["2", "3"], b: ["4"] },
        deleted: ["x", "y"],
      },
    });
    assert.equal(second, first, "one queued pull per connection");
    const row = await queued(w.h.sql, w.connectionId);
    assert.deepEqual(row.work, {
      sync: true,
      createdFrom: { a: "2026-01-01T00:00:00.000Z", b: "2026-03-01T00:00:00.000Z" },
    });
    assert.deepEqual(row.items, [
      "deleted::x",
      "deleted::y",
      "ids:a:1",
      "ids:a:2",
      "ids:a:3",
      "ids:b:4",
    ]);
  } finally {
    await w.close();
  }
});

Deno.test("a queued pull a delivery adds nothing to is not written again", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const [account] = w.fake.items[0].accounts;
    const event = (eventId: string) =>
      w.fake.webhooks.transactionsUpdated({
        itemId: w.accountRef,
        accountId: account.id,
        transactionIds: ["t1", "t2"],
        eventId,
      });
    assert.equal((await deliver(w, event("e1"))).status, 202);
    const before = await queued(w.h.sql, w.connectionId);
    const again = await deliver(w, event("e2"));
    assert.equal(again.body.status, "accepted");
    assert.equal(again.body.pullId, before.id);
    const after = await queued(w.h.sql, w.connectionId);
    assert.equal(after.version, before.version, "the pull's row was not rewritten");
    assert.deepEqual(after.items, before.items);
  } finally {
    await w.close();
  }
});

Deno.test("24 events of 10,000 ids each leave a small queued pull that walks the account whole", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false, idsPerAccount: 1_000 } });
  try {
    const [bank, credit] = w.fake.items[0].accounts;
    for (let e = 0; e < 24; e++) {
      const ids = Array.from({ length: 10_000 }, (_, i) => `t-${e}-${i}`);
      const res = await deliver(
        w,
        w.fake.webhooks.transactionsUpdated({
          itemId: w.accountRef,
          accountId: bank.id,
          transactionIds: ids,
          eventId: `attack-${e}`,
        }),
      );
      assert.equal(res.body.status, "accepted");
    }
    // A few ids of the other account stay ids: its limit was not reached.
    await deliver(
      w,
      w.fake.webhooks.transactionsUpdated({
        itemId: w.accountRef,
        accountId: credit.id,
        transactionIds: ["c1", "c2"],
        eventId: "small",
      }),
    );
    const row = await queued(w.h.sql, w.connectionId);
    assert.deepEqual(row.work, { full: [bank.id] });
    assert.deepEqual(row.items, [`ids:${credit.id}:c1`, `ids:${credit.id}:c2`]);
    assert.ok(row.work_bytes < 200, `the queued row stays small (${row.work_bytes} bytes)`);
  } finally {
    await w.close();
  }
});

Deno.test("ids past the limit become a walk of the account from its first transaction", async () => {
  const w = await wirePluggy({}, { pulls: { idsPerAccount: 3 } });
  try {
    const [bank] = w.fake.items[0].accounts;
    // A first pull stores every transaction and moves the watermark to the newest.
    const first = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    assert.equal((await w.pull(first.body.pullId)).status, "succeeded");

    // The vendor changes its five oldest transactions, older than the watermark's overlap.
    const oldest = w.fake.transactions(bank.id).slice(0, 5).map((t) => t.id);
    const changed = w.fake.updateTransactions(oldest);
    w.fake.resetRequests();
    const res = await deliver(
      w,
      w.fake.webhooks.transactionsUpdated({
        itemId: w.accountRef,
        accountId: bank.id,
        transactionIds: oldest,
      }),
    );
    await w.h.pool.drain();
    assert.equal((await w.pull(res.body.pullId)).status, "succeeded");

    const byIds = w.fake.requests.filter((r) => r.path === "/transactions");
    assert.equal(byIds.length, 0, "no fetch by ids once the account is walked whole");
    const walk = w.fake.requests.filter((r) => r.path === "/v2/transactions");
    assert.ok(walk.length > 0 && walk.every((r) => !r.query.has("createdAtFrom")));
    const stored = new Map((await w.transactions()).map((t) => [t.externalId, t]));
    for (const t of changed) {
      assert.equal(stored.get(t.id)?.description, t.description, `${t.id} has its new values`);
    }
  } finally {
    await w.close();
  }
});
