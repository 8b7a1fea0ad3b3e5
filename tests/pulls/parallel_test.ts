// Pulls walking several accounts at once: overlap, resume of each walk from its own cursor, one
// walk's failure stopping the others, and checkpoints stored before walks ran at once.
import assert from "node:assert/strict";
import { recordProgress } from "../../src/pulls/pull_leases.repository.ts";
import { claimPull } from "../../src/pulls/pull_queue.repository.ts";
import { createSemaphore } from "../../src/lib/semaphore.ts";
import type { FakePluggy } from "../fakes/pluggy.ts";
import type { Json } from "../support/vendor_calls.ts";
import { deliver, testClock, type Wired, wirePluggy } from "../support/pulls.ts";
import { fakeAggregators, gatedWalks } from "../support/vendors.ts";

interface Gate {
  opened: Promise<void>;
  open(): void;
  state: { timedOut: boolean };
}

/**
 * A promise that resolves when `open()` is called, or after a safety net of 10 s (a gate that
 * serial walks would never open); `timedOut` says which. Each gate joins `all`, for the test to
 * open whatever is left at its end.
 */
function gate(all: Gate[]): Gate {
  let open = () => {};
  const state = { timedOut: false };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const opened = new Promise<void>((resolve) => {
    open = () => {
      clearTimeout(timer);
      resolve();
    };
    timer = setTimeout(() => {
      state.timedOut = true;
      resolve();
    }, 10_000);
  });
  const made = { opened, open, state };
  all.push(made);
  return made;
}

const walks = (fake: FakePluggy) => fake.requests.filter((r) => r.path === "/v2/transactions");

/** The stored job row's checkpoint. */
async function checkpointOf(w: Wired<FakePluggy>, pullId: string): Promise<Json> {
  const [row] = await w.h.sql`select checkpoint from pull_jobs where id = ${pullId}`;
  return row.checkpoint;
}

/** Polls `check` every 5 ms until it holds; fails after 10 s, a safety net. */
async function until(what: string, check: () => Promise<boolean>) {
  for (let i = 0; i < 2_000; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`gave up waiting for ${what}`);
}

/** The `after` cursor of a vendor next link. */
const afterOf = (next: string) => new URL(next).searchParams.get("after");

/** Asserts the connection's stored rows are exactly the vendor's transactions, each once. */
async function assertStoredEqualsVendor(w: Wired<FakePluggy>) {
  const [counts] = await w.h.sql`
    select count(*)::int as all, count(distinct external_id)::int as distinct
    from transactions where connection_id = ${w.connectionId}`;
  const vendor = w.fake.items[0].accounts.flatMap((a) => w.fake.transactions(a.id));
  assert.deepEqual(counts, { all: vendor.length, distinct: vendor.length });
  const stored = await w.transactions();
  assert.deepEqual(stored.map((t) => t.externalId).sort(), vendor.map((t) => t.id).sort());
}

/** Each request of the walk log differs from every other (no page was fetched twice). */
function assertNoRepeats(requests: { query: URLSearchParams }[]) {
  const seen = requests.map((r) => r.query.toString());
  assert.equal(new Set(seen).size, seen.length, "a page was fetched twice");
}

Deno.test("a pull walks four of its accounts at once, whatever the pool's size", async () => {
  const items = [{ accounts: Array.from({ length: 6 }, () => ({ transactions: 20 })) }];
  // Each run holds its first `expected` walks before their first page until all of them started.
  const gates: Gate[] = [];
  let expected = 0;
  let started = 0;
  const order = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  let together = gate(gates);
  const w = await wirePluggy({ items, pageSize: 10 }, (fake) => ({
    pulls: { wake: false },
    aggregators: gatedWalks(fakeAggregators([fake.host]), {
      start(account) {
        order.set(account, ++started);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        if (started === expected) together.open();
      },
      async beforePage(account, n) {
        if (n === 1 && order.get(account)! <= expected) await together.opened;
      },
      end() {
        inFlight--;
      },
    }),
  }));
  try {
    // A pool of one pull and the default pool of 4 both walk 4 accounts of a lone pull at once
    // (the pulls share the process's page stores, not a split of them). Each run pulls a
    // connection's whole history (the second one's own connection).
    const second = (await w.addConnection("pluggy-2", w.accountRef)).connectionId;
    for (
      const [concurrency, walksAtOnce, connectionId] of [[1, 4, w.connectionId], [
        4,
        4,
        second,
      ]] as const
    ) {
      expected = walksAtOnce;
      started = 0;
      order.clear();
      maxInFlight = 0;
      together = gate(gates);
      w.fake.resetRequests();
      const res = await w.h.request(`/v1/discovery/aggregator-connections/${connectionId}/pulls`, {
        method: "POST",
        tenant: w.tenant,
      });
      assert.equal(res.status, 202);
      const pullId = (await res.json()).id;
      await w.h.newPool({ concurrency }).drain();
      assert.equal(together.state.timedOut, false, `${walksAtOnce} walks were never under way`);
      assert.equal(maxInFlight, walksAtOnce, `at most ${walksAtOnce} walks at once`);
      assert.equal(started, 6, "every account walked");
      const pull = await w.pull(pullId);
      assert.equal(pull.status, "succeeded");
      assert.equal(pull.pagesFetched, 12);
      assert.equal(walks(w.fake).length, 12, "each page fetched once");
      assertNoRepeats(walks(w.fake));
    }
    await assertStoredEqualsVendor(w);
  } finally {
    for (const g of gates) g.open();
    await w.close();
  }
});

Deno.test("a worker killed with two accounts mid-walk resumes each from its own cursor", async () => {
  const clock = testClock();
  const items = [{ accounts: [{ transactions: 50 }, { transactions: 50 }] }];
  const gates: Gate[] = [];
  let atPage3 = 0;
  const both = gate(gates);
  let crash = () => {};
  const w = await wirePluggy({ items, pageSize: 10 }, (fake) => ({
    now: clock.now,
    pulls: { wake: false, leaseMs: 60_000 },
    aggregators: gatedWalks(fakeAggregators([fake.host], { now: clock.now }), {
      // Page 3 of each walk is fetched, pages 1 and 2 stored; the "crash" lands once both are
      // there, so neither stores page 3.
      async beforePage(_account, n) {
        if (n !== 3) return;
        if (++atPage3 === 2) {
          crash();
          both.open();
        }
        await both.opened;
      },
    }),
  }));
  crash = () => void w.h.pool.stop({ release: false });
  const [a, b] = w.fake.items[0].accounts.map((x) => x.id).sort();
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    assert.equal(both.state.timedOut, false, "both walks reached page 3 together");
    const stopped = await w.pull(body.pullId);
    assert.equal(stopped.status, "running", "still held: the worker died holding it");
    assert.equal(stopped.pagesFetched, 4, "pages 1 and 2 of each account");
    const checkpoint = await checkpointOf(w, body.pullId);
    assert.deepEqual(checkpoint.done, []);
    assert.deepEqual(Object.keys(checkpoint.cursors).sort(), [`sync:${a}`, `sync:${b}`]);
    const firstRun = walks(w.fake);

    clock.advance(60_001);
    w.fake.resetRequests();
    assert.equal((await w.h.sweep()).reclaimed, 1);
    await w.h.newPool().drain();
    const done = await w.pull(body.pullId);
    assert.equal(done.status, "succeeded");
    assert.equal(done.attempts, 2);
    assert.equal(done.pagesFetched, 10, "each page stored once");
    assert.equal(done.transactionsUpserted, 100);
    const resumed = walks(w.fake);
    assert.equal(resumed.length, 6, "pages 3 to 5 of each account, each once");
    for (const account of [a, b]) {
      const own = resumed.filter((r) => r.query.get("accountId") === account);
      assert.equal(own.length, 3);
      const cursor = checkpoint.cursors[`sync:${account}`];
      assert.equal(own[0].query.get("after"), afterOf(cursor.next), "resumed from its cursor");
      // The stored pages of the first run (1 and 2) were not asked for again.
      const storedPages = firstRun.filter((r) => r.query.get("accountId") === account).slice(0, 2);
      for (const page of storedPages) {
        assert.ok(!own.some((r) => r.query.toString() === page.query.toString()));
      }
    }
    assertNoRepeats(resumed);
    const finished = await checkpointOf(w, body.pullId);
    assert.deepEqual(finished.cursors, {});
    assert.deepEqual([...finished.done].sort(), [`sync:${a}`, `sync:${b}`]);
    await assertStoredEqualsVendor(w);
  } finally {
    for (const g of gates) g.open();
    await w.close();
  }
});

Deno.test("one account's failure stops the other walks, and the retry finishes them from their cursors", async () => {
  const clock = testClock();
  const items = [{ accounts: [{ transactions: 50 }, { transactions: 50 }, { transactions: 50 }] }];
  const ids = () => w.fake.items[0].accounts.map((x) => x.id);
  let failing = "";
  const gates: Gate[] = [];
  let othersAtPage3 = 0;
  const othersThere = gate(gates);
  const failed = gate(gates);
  let firstAttempt = true;
  const w = await wirePluggy({ items, pageSize: 10 }, (fake) => ({
    now: clock.now,
    pulls: { wake: false },
    aggregators: gatedWalks(fakeAggregators([fake.host], { now: clock.now }), {
      // The failing account asks for its first page only once the others stored pages 1 and 2
      // and fetched page 3; they hold page 3 until that failure is in.
      async start(account) {
        if (firstAttempt && account === failing) await othersThere.opened;
      },
      async beforePage(account, n) {
        if (!firstAttempt || account === failing || n !== 3) return;
        if (++othersAtPage3 === 2) othersThere.open();
        await failed.opened;
      },
      end(account, error) {
        // After the failure has gone up its walk (a turn of the event loop later).
        if (account === failing && error) setTimeout(failed.open, 0);
      },
    }),
  }));
  const pool = w.h.newPool({ concurrency: 1 }); // 4 walks at once: all three accounts
  try {
    failing = ids()[1];
    w.fake.faults.add({
      path: "/v2/transactions",
      query: { accountId: failing },
      fault: { status: 500 },
    });
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await pool.drain();
    assert.equal(othersThere.state.timedOut, false, "the others were mid-walk together");
    assert.equal(failed.state.timedOut, false, "the failing account failed");
    const retrying = await w.pull(body.pullId);
    assert.equal(retrying.status, "retrying");
    assert.equal(retrying.lastError.reason, "vendor_unreachable");
    assert.equal(retrying.pagesFetched, 4, "the others stopped after pages 1 and 2");
    const others = ids().filter((id) => id !== failing).sort();
    const checkpoint = await checkpointOf(w, body.pullId);
    assert.deepEqual(checkpoint.done, []);
    assert.deepEqual(Object.keys(checkpoint.cursors).sort(), others.map((id) => `sync:${id}`));

    firstAttempt = false;
    w.fake.resetRequests();
    clock.advance(60 * 60_000);
    await pool.drain();
    const done = await w.pull(body.pullId);
    assert.equal(done.status, "succeeded");
    assert.equal(done.attempts, 2);
    assert.equal(done.pagesFetched, 15, "each page stored once");
    assert.equal(done.transactionsUpserted, 150);
    const resumed = walks(w.fake);
    for (const account of others) {
      const own = resumed.filter((r) => r.query.get("accountId") === account);
      assert.equal(own.length, 3, "pages 3 to 5");
      const cursor = checkpoint.cursors[`sync:${account}`];
      assert.equal(own[0].query.get("after"), afterOf(cursor.next), "resumed from its cursor");
    }
    const again = resumed.filter((r) => r.query.get("accountId") === failing);
    assert.equal(again.length, 5);
    assert.equal(again[0].query.has("after"), false, "the failed account starts over");
    assertNoRepeats(resumed);
    await assertStoredEqualsVendor(w);
  } finally {
    for (const g of gates) g.open();
    await pool.stop();
    await w.close();
  }
});

Deno.test("a checkpoint stored before walks ran at once (one `current` step) still resumes", async () => {
  const clock = testClock();
  const gates: Gate[] = [];
  // The fake's default item: 25 transactions (5 pages) and 10 (2 pages), at 5 a page.
  let big = "";
  let small = "";
  const smallDone = gate(gates);
  let crash = () => {};
  let watching = true;
  const w = await wirePluggy({ pageSize: 5 }, (fake) => ({
    now: clock.now,
    pulls: { wake: false, leaseMs: 60_000 },
    aggregators: gatedWalks(fakeAggregators([fake.host], { now: clock.now }), {
      async beforePage(account, n) {
        if (!watching || account !== big || n !== 3) return;
        await smallDone.opened;
        crash();
      },
      end(account) {
        if (account === small) setTimeout(smallDone.open, 0);
      },
    }),
  }));
  crash = () => void w.h.pool.stop({ release: false });
  [big, small] = w.fake.items[0].accounts.map((x) => x.id);
  try {
    assert.equal(w.fake.transactions(big).length, 25);
    assert.equal(w.fake.transactions(small).length, 10);
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    assert.equal(smallDone.state.timedOut, false);
    watching = false;
    // As the previous version stored it: the finished steps, and the one step mid-walk.
    const { cursors } = await checkpointOf(w, body.pullId);
    assert.deepEqual(Object.keys(cursors), [`sync:${big}`]);
    const current = { step: `sync:${big}`, ...cursors[`sync:${big}`] };
    await w.h.sql`
      update pull_jobs set checkpoint = ${
      w.h.sql.json({ done: [`sync:${small}`], current })
    } where id = ${body.pullId}`;
    assert.equal((await w.pull(body.pullId)).pagesFetched, 4, "pages 1-2 of each account");

    clock.advance(60_001);
    w.fake.resetRequests();
    assert.equal((await w.h.sweep()).reclaimed, 1);
    await w.h.newPool().drain();
    const done = await w.pull(body.pullId);
    assert.equal(done.status, "succeeded");
    assert.equal(done.pagesFetched, 7);
    assert.equal(done.transactionsUpserted, 35);
    const resumed = walks(w.fake);
    assert.ok(resumed.every((r) => r.query.get("accountId") === big), "the done step is skipped");
    assert.equal(resumed.length, 3, "pages 3 to 5");
    assert.equal(resumed[0].query.get("after"), afterOf(current.next));
    assert.deepEqual(await checkpointOf(w, body.pullId), {
      done: [`sync:${small}`, `sync:${big}`],
      cursors: {},
    });
    await assertStoredEqualsVendor(w);
  } finally {
    for (const g of gates) g.open();
    await w.close();
  }
});

Deno.test("each commit changes only its own step's entry, and two commits at once keep both", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    const job = await claimPull(w.h.sql, "test-owner", new Date(), new Date(Date.now() + 60_000));
    assert.equal(job?.id, body.pullId);
    const lease = { jobId: body.pullId, owner: "test-owner" };
    const cursor = (n: number) => ({ next: `https://vendor/p?after=${n}`, maxCreatedAt: null });
    const progress = (step: string, finished: boolean, c?: ReturnType<typeof cursor>) => ({
      step,
      finished,
      cursor: c,
      pages: 1,
      upserted: 0,
      leaseUntil: new Date(Date.now() + 60_000),
    });
    // As the previous version stored it: one step mid-walk.
    await w.h.sql`
      update pull_jobs set checkpoint = ${
      w.h.sql.json({ done: ["created:x"], current: { step: "sync:a", ...cursor(1) } })
    } where id = ${body.pullId}`;
    await w.h.sql.begin((tx) => recordProgress(tx, lease, progress("sync:b", false, cursor(2))));
    assert.deepEqual(await checkpointOf(w, body.pullId), {
      done: ["created:x"],
      cursors: { "sync:a": cursor(1), "sync:b": cursor(2) },
    });

    // Step a commits and holds the job's row; step b's commit waits for it, then applies to the
    // row a left, so neither entry is lost. (Embedded PGlite serves one connection: nothing waits.)
    if (w.h.sql.options.max < 2) return;
    const release = Promise.withResolvers<void>();
    const first = w.h.sql.begin(async (tx) => {
      await recordProgress(tx, lease, progress("sync:a", true));
      await release.promise;
    });
    const [me] = await w.h.sql`select current_database() as db`;
    const backends = async (where: string) => {
      const [{ n }] = await w.h.sql`
        select count(*)::int as n from pg_stat_activity
        where datname = ${me.db} and ${w.h.sql.unsafe(where)}`;
      return n;
    };
    await until(
      "step a's commit to hold the row",
      async () => await backends("state = 'idle in transaction'") === 1,
    );
    const second = w.h.sql.begin((tx) =>
      recordProgress(tx, lease, progress("sync:b", false, cursor(3)))
    );
    await until(
      "step b's commit to wait for it",
      async () => await backends("wait_event_type = 'Lock'") === 1,
    );
    release.resolve();
    await Promise.all([first, second]);
    assert.deepEqual(await checkpointOf(w, body.pullId), {
      done: ["created:x", "sync:a"],
      cursors: { "sync:b": cursor(3) },
    });
    const [{ pages }] = await w.h.sql`
      select pages_fetched as pages from pull_jobs where id = ${body.pullId}`;
    assert.equal(pages, 3);
  } finally {
    await w.close();
  }
});

Deno.test("the pulls of a pool share its page stores: more walks than stores, never more stores", async () => {
  const items = [{ accounts: Array.from({ length: 4 }, () => ({ transactions: 30 })) }];
  const w = await wirePluggy({ items, pageSize: 5 }, { pulls: { wake: false } });
  try {
    const others = [];
    for (const name of ["pluggy-2", "pluggy-3"]) {
      others.push((await w.addConnection(name, w.accountRef)).connectionId);
    }
    for (const id of [w.connectionId, ...others]) {
      const res = await w.h.request(`/v1/discovery/aggregator-connections/${id}/pulls`, {
        method: "POST",
        tenant: w.tenant,
      });
      assert.equal(res.status, 202);
    }
    // Three pulls of four accounts each walk twelve accounts at once over three page stores.
    const stores = createSemaphore(3);
    let most = 0;
    const watched = {
      run<T>(work: () => Promise<T>) {
        return stores.run(() => {
          most = Math.max(most, stores.held);
          return work();
        });
      },
      get held() {
        return stores.held;
      },
    };
    await w.h.newPool({ concurrency: 3, pageStores: watched }).drain();
    assert.equal(most, 3, "every store was in use at some point, and never more");
    const [done] = await w.h.sql`
      select count(*)::int as n from pull_jobs where status = 'succeeded' and trigger = 'manual'`;
    assert.equal(done.n, 3);
    const [stored] = await w.h.sql`
      select count(distinct (connection_id, external_id))::int as n from transactions`;
    assert.equal(stored.n, 3 * 120);
  } finally {
    await w.close();
  }
});
