// Pulls under crashes, competing workers and vendor faults: nothing lost, nothing twice, no pile-up.
import assert from "node:assert/strict";
import { reclaimExpiredLeases } from "../../src/pulls/pull_leases.repository.ts";
import type { Aggregators } from "../../src/vendors/clients.ts";
import type { Json } from "../support/vendor_calls.ts";
import { deliver, testClock, wirePluggy } from "../support/pulls.ts";
import { fakeAggregators, gatedWalks } from "../support/vendors.ts";

/** Aggregators whose transaction walks call `onPage(n)` before yielding their n-th page. */
function watchingPages(real: Aggregators, onPage: (n: number) => void): Aggregators {
  return gatedWalks(real, { beforePage: (_account, n) => onPage(n) });
}

async function storedCount(w: { h: { sql: Json }; connectionId: string }) {
  const [row] = await w.h.sql`
    select count(*)::int as all, count(distinct external_id)::int as distinct
    from transactions where connection_id = ${w.connectionId}`;
  return row;
}

Deno.test("a worker stopped after page 4 of 10 leaves a checkpoint a fresh worker resumes exactly", async () => {
  const clock = testClock();
  const items = [{ accounts: [{ type: "BANK" as const, transactions: 100 }] }];
  let crash = () => {};
  const w = await wirePluggy({ items, pageSize: 10 }, (fake) => ({
    now: clock.now,
    pulls: { wake: false, leaseMs: 60_000 },
    // The stop lands while page 5 is on its way, as a crash would: page 5 is never stored.
    aggregators: watchingPages(fakeAggregators([fake.host], { now: clock.now }), (n) => {
      if (n === 5) crash();
    }),
  }));
  crash = () => {
    crash = () => {};
    void w.h.pool.stop({ release: false });
  };
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    const stopped = await w.pull(body.pullId);
    assert.equal(stopped.status, "running"); // still held: the worker "died" holding it
    assert.equal(stopped.pagesFetched, 4);
    assert.deepEqual(await storedCount(w), { all: 40, distinct: 40 });

    const fresh = w.h.newPool();
    await fresh.drain();
    assert.equal((await w.pull(body.pullId)).status, "running", "the lease still holds");

    clock.advance(60_001);
    w.fake.resetRequests();
    assert.equal((await w.h.sweep()).reclaimed, 1);
    const reclaimed = await w.pull(body.pullId);
    assert.equal(reclaimed.status, "retrying");
    assert.equal(reclaimed.lastError.reason, "worker_lost");

    await fresh.drain();
    const done = await w.pull(body.pullId);
    assert.equal(done.status, "succeeded");
    assert.equal(done.attempts, 2);
    assert.equal(done.pagesFetched, 10);
    assert.equal(done.transactionsUpserted, 100);
    const walks = w.fake.requests.filter((r) => r.path === "/v2/transactions");
    assert.equal(walks.length, 6, "pages 5 to 10, each once");
    assert.ok(walks[0].query.has("after"), "resumed from the stored next link");
    assert.deepEqual(await storedCount(w), { all: 100, distinct: 100 });
    const vendorIds = w.fake.transactions(w.fake.items[0].accounts[0].id).map((t) => t.id).sort();
    const stored = (await w.transactions()).map((t) => t.externalId).sort();
    assert.deepEqual(stored, vendorIds);
  } finally {
    await w.close();
  }
});

Deno.test("a graceful stop hands the pull back at once, its attempt not counted", async () => {
  const items = [{ accounts: [{ type: "BANK" as const, transactions: 50 }] }];
  let stop = () => {};
  const w = await wirePluggy({ items, pageSize: 10 }, (fake) => ({
    pulls: { wake: false },
    aggregators: watchingPages(fakeAggregators([fake.host]), (n) => n === 3 && stop()),
  }));
  stop = () => void w.h.pool.stop();
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    const released = await w.pull(body.pullId);
    assert.equal(released.status, "retrying");
    assert.equal(released.attempts, 0);
    assert.equal(released.pagesFetched, 2);
    stop = () => {};
    await w.h.newPool().drain();
    const done = await w.pull(body.pullId);
    assert.equal(done.status, "succeeded");
    assert.equal(done.attempts, 1);
    assert.deepEqual(await storedCount(w), { all: 50, distinct: 50 });
  } finally {
    await w.close();
  }
});

Deno.test("two worker pools on one database run every pull exactly once", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false, concurrency: 3 } });
  try {
    const ids = [w.connectionId];
    for (let i = 0; i < 19; i++) {
      ids.push((await w.addConnection(`pluggy-${i}`, w.accountRef)).connectionId);
    }
    for (const id of ids) {
      const res = await w.h.request(`/v1/discovery/aggregator-connections/${id}/pulls`, {
        method: "POST",
        tenant: w.tenant,
      });
      assert.equal(res.status, 202);
      assert.equal((await res.json()).status, "queued");
    }
    w.fake.resetRequests();
    await Promise.all([w.h.pool.drain(), w.h.newPool({ concurrency: 3 }).drain()]);
    const jobs = await w.h.sql`select status, attempts from pull_jobs`;
    assert.equal(jobs.length, 20);
    assert.ok(jobs.every((j) => j.status === "succeeded" && j.attempts === 1));
    const firstPages = w.fake.requests.filter((r) =>
      r.path === "/v2/transactions" && !r.query.has("after")
    );
    assert.equal(firstPages.length, 20 * 2, "each of two accounts walked once per connection");
    const perConnection = await w.h.sql`
      select connection_id, count(*)::int from transactions group by connection_id`;
    assert.equal(perConnection.length, 20);
    assert.ok(perConnection.every((c) => c.count === 35));
  } finally {
    await w.close();
  }
});

Deno.test("429 with Retry-After, 5xx and a timeout are retried with growing delays, then succeed", async () => {
  const clock = testClock();
  const w = await wirePluggy({}, (fake) => ({
    now: clock.now,
    pulls: { wake: false, random: () => 1 },
    aggregators: fakeAggregators([fake.host], {
      now: clock.now,
      timeoutMs: 500,
      connectTimeoutMs: 500,
    }),
  }));
  const accounts = "/accounts";
  try {
    w.fake.faults.add({ path: accounts, fault: { status: 429, headers: { "Retry-After": "90" } } });
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    let pull = await w.pull(body.pullId);
    assert.equal(pull.status, "retrying");
    assert.equal(pull.lastError.reason, "rate_limited");
    assert.equal(Date.parse(pull.nextAttemptAt) - clock.now(), 90_000, "Retry-After over 30 s");

    await w.h.sweep();
    assert.equal((await w.pull(body.pullId)).attempts, 1, "not due yet: nothing ran");

    w.fake.faults.add({ path: accounts, fault: { status: 503 } });
    clock.advance(90_000);
    await w.h.sweep();
    pull = await w.pull(body.pullId);
    assert.equal(pull.attempts, 2);
    assert.equal(pull.lastError.reason, "vendor_unreachable");
    assert.equal(Date.parse(pull.nextAttemptAt) - clock.now(), 60_000);

    w.fake.faults.add({ path: accounts, fault: { delayMs: 1_500 } });
    clock.advance(60_000);
    await w.h.sweep();
    pull = await w.pull(body.pullId);
    assert.equal(pull.attempts, 3);
    assert.equal(pull.lastError.reason, "timeout");
    assert.equal(Date.parse(pull.nextAttemptAt) - clock.now(), 120_000);

    clock.advance(120_000);
    await w.h.sweep();
    pull = await w.pull(body.pullId);
    assert.equal(pull.status, "succeeded");
    assert.equal(pull.attempts, 4);
    assert.equal(pull.lastError, null);
    assert.equal(pull.nextAttemptAt, null);
    assert.equal((await w.transactions()).length, 35);
  } finally {
    await w.close();
  }
});

Deno.test("rejected credentials and a missing account fail at once with their reason", async () => {
  const w = await wirePluggy({}, { secret: "wrong-secret", pulls: { wake: false } });
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    const pull = await w.pull(body.pullId);
    assert.equal(pull.status, "failed");
    assert.equal(pull.attempts, 1);
    assert.equal(pull.lastError.reason, "credentials_rejected");
    assert.equal(pull.nextAttemptAt, null);
    assert.ok(pull.finishedAt);
    assert.ok(!w.h.logs.join("\n").includes("wrong-secret"));
  } finally {
    await w.close();
  }
  const v = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const { body } = await deliver(
      v,
      v.fake.webhooks.transactionsCreated({
        itemId: v.accountRef,
        accountId: crypto.randomUUID(),
        transactionsCreatedAtFrom: new Date(),
      }),
    );
    await v.h.pool.drain();
    const pull = await v.pull(body.pullId);
    assert.equal(pull.status, "failed");
    assert.equal(pull.lastError.reason, "account_not_found");
  } finally {
    await v.close();
  }
});

Deno.test("a pull that keeps failing is dead after its attempts, and a new pull can be asked for", async () => {
  const clock = testClock();
  const w = await wirePluggy({}, { now: clock.now, pulls: { wake: false, maxAttempts: 3 } });
  try {
    w.fake.faults.add({ path: "/accounts", times: Infinity, fault: { status: 500 } });
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    for (let i = 0; i < 2; i++) {
      clock.advance(60 * 60_000);
      await w.h.sweep();
    }
    const pull = await w.pull(body.pullId);
    assert.equal(pull.status, "dead");
    assert.equal(pull.attempts, 3);
    assert.equal(pull.lastError.reason, "vendor_unreachable");
    assert.ok(pull.finishedAt);

    w.fake.faults.clear();
    const res = await w.h.request(`/v1/discovery/aggregator-connections/${w.connectionId}/pulls`, {
      method: "POST",
      tenant: w.tenant,
    });
    assert.equal(res.status, 202);
    const manual = await res.json();
    assert.notEqual(manual.id, body.pullId);
    assert.equal(manual.trigger, "manual");
    await w.h.pool.drain();
    assert.equal((await w.pull(manual.id)).status, "succeeded");
    const list = await w.get(`/v1/discovery/aggregator-connections/${w.connectionId}/pulls`);
    assert.deepEqual(list.items.map((p: Json) => p.id), [manual.id, body.pullId]);
  } finally {
    await w.close();
  }
});

Deno.test("retry runs a dead pull's own work again, the ids its webhook listed included", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false, maxAttempts: 1 } });
  try {
    await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    const account = w.fake.items[0].accounts[0].id;
    const ids = w.fake.transactions(account).slice(0, 2).map((t) => t.id);
    const changed = w.fake.updateTransactions(ids);
    w.fake.faults.add({ path: "/transactions", fault: { status: 500 } });
    const { body } = await deliver(
      w,
      w.fake.webhooks.transactionsUpdated({
        itemId: w.accountRef,
        accountId: account,
        transactionIds: ids,
      }),
    );
    await w.h.pool.drain();
    assert.equal((await w.pull(body.pullId)).status, "dead");

    const retry = (id: string, tenant = w.tenant) =>
      w.h.request(`/v1/discovery/pulls/${id}/retry`, { method: "POST", tenant });
    const foreign = await retry(body.pullId, crypto.randomUUID());
    assert.equal(foreign.status, 404);
    assert.equal((await foreign.json()).code, "MTCH-4404");

    const res = await retry(body.pullId);
    assert.equal(res.status, 202);
    const again = await res.json();
    assert.notEqual(again.id, body.pullId);
    assert.equal(again.status, "queued");
    assert.equal((await w.pull(body.pullId)).status, "dead", "the dead pull stays as it was");
    const busy = await retry(again.id);
    assert.equal(busy.status, 409);
    assert.equal((await busy.json()).code, "MTCH-4409");

    w.fake.resetRequests();
    await w.h.pool.drain();
    assert.equal((await w.pull(again.id)).status, "succeeded");
    assert.ok(w.fake.requests.some((r) => r.path === "/transactions" && r.query.has("ids")));
    const stored = new Map((await w.transactions()).map((t) => [t.externalId, t]));
    for (const tx of changed) assert.equal(stored.get(tx.id).description, tx.description);
  } finally {
    await w.close();
  }
});

Deno.test("a worker whose lease was taken over cannot store its late page", async () => {
  const clock = testClock();
  const items = [{ accounts: [{ type: "BANK" as const, transactions: 30 }] }];
  let slowNextPage = () => {};
  const w = await wirePluggy({ items, pageSize: 10 }, (fake) => ({
    now: clock.now,
    pulls: { wake: false, leaseMs: 60_000 },
    aggregators: watchingPages(fakeAggregators([fake.host], { now: clock.now }), (n) => {
      if (n === 1) slowNextPage();
    }),
  }));
  let slowed = false;
  slowNextPage = () => {
    slowNextPage = () => {};
    // Below the test client's 1 s wait for an answer to start, so the page does arrive, late.
    w.fake.faults.add({ path: "/v2/transactions", fault: { delayMs: 700 } });
    slowed = true;
  };
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    const hung = w.h.pool.drain(); // its worker stores page 1, then waits on page 2
    // Reclaim only once that worker has stored page 1 and its request for page 2 (the slowed
    // one, read ahead while page 1 was stored) is at the vendor.
    const walks = () => w.fake.requests.filter((r) => r.path === "/v2/transactions").length;
    const stored = async () => (await w.pull(body.pullId)).pagesFetched;
    while (!slowed || walks() < 2 || await stored() < 1) {
      await new Promise((r) => setTimeout(r, 10));
    }
    clock.advance(60_001);
    assert.equal(await reclaimExpiredLeases(w.h.sql, new Date(clock.now()), 8), 1);
    // The new holder's own page 2 comes later still, so the stale page lands while it runs.
    w.fake.faults.add({ path: "/v2/transactions", fault: { delayMs: 900 } });
    await w.h.newPool().drain(); // another worker takes the job over and finishes it
    const done = await w.pull(body.pullId);
    assert.equal(done.status, "succeeded");
    assert.equal(done.attempts, 2);

    await hung; // page 2 reaches the first worker only now; its write is refused
    assert.ok(w.h.logs.some((l) => l.includes("pull lease lost")));
    const after = await w.pull(body.pullId);
    assert.deepEqual(
      { status: after.status, pages: after.pagesFetched, upserted: after.transactionsUpserted },
      { status: "succeeded", pages: 3, upserted: 30 },
    );
    assert.deepEqual(await storedCount(w), { all: 30, distinct: 30 });
  } finally {
    await w.close();
  }
});

Deno.test("a drain ends when the only due job is locked by another transaction", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    const outcome = await w.h.sql.begin(async (tx) => {
      // As a replica's claim or a webhook's merge would, for a moment.
      await tx`select id from pull_jobs where id = ${body.pullId} for update`;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const safetyNet = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve("still spinning"), 10_000);
      });
      const result = await Promise.race([w.h.pool.drain().then(() => "ended"), safetyNet]);
      clearTimeout(timer);
      return result;
    });
    assert.equal(outcome, "ended");
    assert.equal((await w.pull(body.pullId)).status, "queued");
    await w.h.pool.drain(); // unlocked now: it runs
    assert.equal((await w.pull(body.pullId)).status, "succeeded");
  } finally {
    await w.close();
  }
});
