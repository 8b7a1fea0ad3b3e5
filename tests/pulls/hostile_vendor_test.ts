// A hostile or broken vendor: huge Retry-After, cycling or endless page links, permanent faults
// and malformed transactions end each pull with a clear outcome, never a crash or an endless run.
import assert from "node:assert/strict";
import type { Aggregators } from "../../src/vendors/clients.ts";
import { testClock, wireBelvo, type Wired, wirePluggy } from "../support/pulls.ts";
import { fakeAggregators, gatedWalks } from "../support/vendors.ts";
import type { Json } from "../support/vendor_calls.ts";
import { parseExposition, samplesOf } from "../support/prometheus.ts";

const HOUR = 60 * 60_000;

Deno.test("a huge, far-off, negative or garbage Retry-After retries within the hour, never crashes", async (t) => {
  const clock = testClock();
  const w = await wirePluggy({}, (fake) => ({
    now: clock.now,
    pulls: { wake: false, random: () => 1 },
    aggregators: fakeAggregators([fake.host], { now: clock.now }),
  }));
  const cases: Array<[string, string, number]> = [
    ["delta seconds past any date", "9999999999999999", HOUR],
    ["more digits than a double holds", "9".repeat(400), HOUR],
    ["a date in the year 9999", "Fri, 31 Dec 9999 23:59:59 GMT", HOUR],
    // Not a Retry-After at all: the backoff's own first delay (30 s, the jitter at its top).
    ["a negative number", "-5", 30_000],
    ["garbage", "soon, maybe", 30_000],
  ];
  try {
    for (const [name, retryAfter, wait] of cases) {
      await t.step(name, async () => {
        w.fake.faults.add({
          path: "/accounts",
          fault: { status: 429, headers: { "Retry-After": retryAfter } },
        });
        const res = await w.h.request(
          `/v1/discovery/aggregator-connections/${w.connectionId}/pulls`,
          { method: "POST", tenant: w.tenant },
        );
        assert.equal(res.status, 202);
        const { id } = await res.json();
        await w.h.pool.drain();
        const pull = await w.pull(id);
        assert.equal(pull.status, "retrying", JSON.stringify(pull));
        assert.equal(pull.lastError.reason, "rate_limited");
        assert.equal(Date.parse(pull.nextAttemptAt) - clock.now(), wait);
        // The retry runs once due, and the pull finishes.
        clock.advance(wait);
        await w.h.sweep();
        assert.equal((await w.pull(id)).status, "succeeded");
      });
    }
  } finally {
    await w.close();
  }
});

/** Answers `url` with the query parameter `name` set to `value`, or removed when it is null. */
function withParam(url: URL, name: string, value: string | null): string {
  const copy = new URL(url);
  if (value === null) copy.searchParams.delete(name);
  else copy.searchParams.set(name, value);
  return copy.href;
}

/**
 * A `next` fault that makes links cycle through `cycle` until it has been asked `bound` times, then
 * ends the walk (so that a client that does not see the cycle finishes instead of running forever).
 */
function cyclingLinks(cycle: (request: URL, next: string | null) => string | null, bound = 100) {
  let asked = 0;
  return {
    get asked() {
      return asked;
    },
    next(request: URL, next: string | null) {
      return ++asked > bound ? null : cycle(request, next);
    },
  };
}

Deno.test("a Pluggy next link that cycles A → B → A on the vendor's origin fails the pull with page_cycle", async () => {
  const items = [{ accounts: [{ type: "BANK" as const, transactions: 25 }] }];
  const w = await wirePluggy({ items, pageSize: 10 }, { pulls: { wake: false } });
  // Page B (any page reached by `after`) links back to the first page, which links to B again.
  const links = cyclingLinks((req, next) =>
    req.searchParams.has("after") ? withParam(req, "after", null) : next
  );
  try {
    w.fake.faults.add({ path: "/v2/transactions", times: Infinity, fault: { next: links.next } });
    const res = await w.h.request(`/v1/discovery/aggregator-connections/${w.connectionId}/pulls`, {
      method: "POST",
      tenant: w.tenant,
    });
    const { id } = await res.json();
    await w.h.pool.drain();
    const pull = await w.pull(id);
    assert.equal(pull.status, "failed", JSON.stringify(pull));
    assert.equal(pull.attempts, 1);
    assert.equal(pull.lastError.reason, "page_cycle");
    assert.equal(links.asked, 2, "A and B were fetched, A was not fetched again");
    assert.equal(pull.pagesFetched, 2, "pages A and B stored; B's link back to A is refused");
  } finally {
    await w.close();
  }
});

Deno.test("a Belvo next link that cycles between two links of one page fails the pull with page_cycle", async () => {
  const w = await wireBelvo({}, { pulls: { wake: false } });
  // The first page links to itself as `page=1` (another link), which links back to the first.
  const links = cyclingLinks((req) =>
    withParam(req, "page", req.searchParams.get("page") === "1" ? null : "1")
  );
  try {
    w.fake.faults.add({ path: "/api/transactions/", times: Infinity, fault: { next: links.next } });
    const pull = await requestAndRun(w);
    assert.equal(pull.status, "failed", JSON.stringify(pull));
    assert.equal(pull.lastError.reason, "page_cycle");
    assert.ok(links.asked <= 2 * w.fake.links[0].accounts.length, `${links.asked} pages fetched`);
  } finally {
    await w.close();
  }
});

/** Requests a pull of the connection, runs it, and answers it. */
async function requestAndRun(w: Wired<{ url: string }>): Promise<Json> {
  const res = await w.h.request(`/v1/discovery/aggregator-connections/${w.connectionId}/pulls`, {
    method: "POST",
    tenant: w.tenant,
  });
  assert.equal(res.status, 202);
  const { id } = await res.json();
  await w.h.pool.drain();
  return await w.pull(id);
}

Deno.test("a walk longer than MATCHER_PULL_MAX_PAGES_PER_WALK fails the pull with too_many_pages", async () => {
  const items = [{ accounts: [{ type: "BANK" as const, transactions: 25 }] }];
  const w = await wirePluggy({ items, pageSize: 5 }, {
    pulls: { wake: false, maxPagesPerWalk: 3 },
  });
  try {
    const pull = await requestAndRun(w);
    assert.equal(pull.status, "failed", JSON.stringify(pull));
    assert.equal(pull.attempts, 1);
    assert.equal(pull.lastError.reason, "too_many_pages");
    assert.equal(pull.pagesFetched, 3, "three pages stored, the fourth never fetched");
    const walks = w.fake.requests.filter((r) => r.path === "/v2/transactions");
    assert.equal(walks.length, 3);
  } finally {
    await w.close();
  }
  // The same account under a cap it fits in.
  const v = await wirePluggy({ items, pageSize: 5 }, {
    pulls: { wake: false, maxPagesPerWalk: 5 },
  });
  try {
    const pull = await requestAndRun(v);
    assert.equal(pull.status, "succeeded", JSON.stringify(pull));
    assert.equal(pull.pagesFetched, 5);
  } finally {
    await v.close();
  }
});

Deno.test("the page cap counts the pages an earlier attempt of the walk stored", async () => {
  const clock = testClock();
  const items = [{ accounts: [{ type: "BANK" as const, transactions: 25 }] }];
  let crash = () => {};
  const w = await wirePluggy({ items, pageSize: 5 }, (fake) => ({
    now: clock.now,
    pulls: { wake: false, leaseMs: 60_000 },
    // The worker dies as page 3 arrives: pages 1 and 2 are stored with the walk's cursor.
    aggregators: watchingPages(
      fakeAggregators([fake.host], { now: clock.now, maxPagesPerWalk: 4 }),
      (n) => n === 3 && crash(),
    ),
  }));
  crash = () => {
    crash = () => {};
    void w.h.pool.stop({ release: false });
  };
  try {
    const res = await w.h.request(`/v1/discovery/aggregator-connections/${w.connectionId}/pulls`, {
      method: "POST",
      tenant: w.tenant,
    });
    const { id } = await res.json();
    await w.h.pool.drain();
    assert.equal((await w.pull(id)).pagesFetched, 2);
    clock.advance(60_001);
    assert.equal((await w.h.sweep()).reclaimed, 1);
    await w.h.newPool().drain();
    const pull = await w.pull(id);
    assert.equal(pull.status, "failed", JSON.stringify(pull));
    assert.equal(pull.lastError.reason, "too_many_pages");
    assert.equal(pull.pagesFetched, 4, "two pages before the crash and two after, of four allowed");
  } finally {
    await w.close();
  }
});

/** Aggregators whose transaction walks call `onPage(n)` before yielding their n-th page. */
function watchingPages(real: Aggregators, onPage: (n: number) => void): Aggregators {
  return gatedWalks(real, { beforePage: (_account, n) => onPage(n) });
}

Deno.test("a permanent vendor fault fails the pull at once with its reason; a malformed answer is retried", async (t) => {
  const items = [{ accounts: [{ type: "BANK" as const, transactions: 25 }] }];
  const w = await wirePluggy({ items, pageSize: 10 }, { pulls: { wake: false } });
  const elsewhere = "https://elsewhere.example/v2/transactions?after=x";
  const permanent: Array<[string, Json]> = [
    ["a redirect", { redirect: `${w.fake.url}/v2/transactions` }],
    ["a next link to another origin", { next: () => elsewhere }],
    ["a next link with user info", {
      next: (req: URL) => withParam(req, "after", "x").replace("//", "//user:pw@"),
    }],
    ["a next link that is not a URL", { next: () => "::not a url::" }],
  ];
  try {
    for (const [name, fault] of permanent) {
      await t.step(`${name}: failed, unexpected_response, one attempt`, async () => {
        w.fake.faults.add({ path: "/v2/transactions", fault });
        const pull = await requestAndRun(w);
        assert.equal(pull.status, "failed", JSON.stringify(pull));
        assert.equal(pull.attempts, 1);
        assert.equal(pull.lastError.reason, "unexpected_response");
        assert.equal(pull.nextAttemptAt, null);
      });
    }
    await t.step("truncated JSON may pass: retrying", async () => {
      w.fake.faults.add({ path: "/v2/transactions", fault: { truncate: true } });
      const pull = await requestAndRun(w);
      assert.equal(pull.status, "retrying", JSON.stringify(pull));
      assert.equal(pull.lastError.reason, "unexpected_response");
    });
    assert.ok(!w.h.logs.join("\n").includes("user:pw"), "no user info in a log line");
  } finally {
    await w.close();
  }
});

const METRICS_TOKEN = "hostile-vendor-metrics-token-0123456789abcdef";

/** `matcher_pull_transactions_skipped_total` as "vendor reason" → value, zeros left out. */
async function skippedMetric(w: Wired<{ url: string }>): Promise<Record<string, number>> {
  const res = await w.h.request("/metrics", {
    headers: { Authorization: `Bearer ${METRICS_TOKEN}` },
  });
  assert.equal(res.status, 200);
  const samples = samplesOf(
    parseExposition(await res.text()),
    "matcher_pull_transactions_skipped_total",
  );
  assert.equal(samples.length, 8, "every vendor and reason shown from zero");
  return Object.fromEntries(
    samples.filter((s) => s.value > 0).map((
      s,
    ) => [`${s.labels.vendor} ${s.labels.reason}`, s.value]),
  );
}

Deno.test("the dates the attack sent (2024-13-45, not-a-date, year 0) no longer fail the pull", async () => {
  const items = [{ accounts: [{ type: "BANK" as const, transactions: 10 }] }];
  const w = await wirePluggy({ items }, { pulls: { wake: false } });
  try {
    const account = w.fake.items[0].accounts[0].id;
    const rows: Json[] = w.fake.transactions(account).map((t) => ({ ...t }));
    rows[3].date = "2024-13-45";
    rows[5].createdAt = "not-a-date";
    rows[7].createdAt = "0000-01-01T00:00:00Z";
    w.fake.faults.add({
      path: "/v2/transactions",
      fault: { status: 200, body: { results: rows, next: null } },
    });
    const pull = await requestAndRun(w);
    assert.equal(pull.status, "succeeded", JSON.stringify(pull));
    assert.equal(pull.transactionsUpserted, 7);
    assert.equal(pull.transactionsSkipped, 3);
    assert.deepEqual(
      pull.skippedTransactions.map((s: Json) => [s.externalId, s.reason]),
      [[rows[3].id, "invalid_date"], [rows[5].id, "invalid_created_at"], [
        rows[7].id,
        "invalid_created_at",
      ]],
    );
  } finally {
    await w.close();
  }
});

Deno.test("malformed Pluggy transactions are skipped and counted; the rest of their page is stored", async () => {
  const items = [{ accounts: [{ type: "BANK" as const, transactions: 25 }] }];
  const w = await wirePluggy({ items }, { pulls: { wake: false }, metricsToken: METRICS_TOKEN });
  try {
    const account = w.fake.items[0].accounts[0].id;
    const rows: Json[] = w.fake.transactions(account).map((t) => ({ ...t }));
    const bad: Array<[number, Json, string]> = [
      [1, { date: "2024-13-45" }, "invalid_date"],
      [2, { createdAt: "not-a-date" }, "invalid_created_at"],
      [3, { createdAt: "0000-01-01T00:00:00Z" }, "invalid_created_at"],
      [4, { amount: "12,50" }, "invalid_amount"],
      [5, { amount: "__HUGE__" }, "invalid_amount"], // sent as 1e400: Infinity once parsed
      [6, { date: "0000-01-01" }, "invalid_date"],
    ];
    for (const [i, change] of bad) Object.assign(rows[i], change);
    delete rows[7].accountId; // the wrong shape
    const page = JSON.stringify({ results: rows, next: null }).replace('"__HUGE__"', "1e400");
    w.fake.faults.add({ path: "/v2/transactions", fault: { status: 200, body: page } });
    const pull = await requestAndRun(w);
    assert.equal(pull.status, "succeeded", JSON.stringify(pull));
    assert.equal(pull.attempts, 1);
    assert.equal(pull.transactionsUpserted, 25 - 7);
    assert.equal(pull.transactionsSkipped, 7);
    const expected = [
      ...bad.map(([i, , reason]) => ({ externalId: rows[i].id, accountId: account, reason })),
      { externalId: rows[7].id, accountId: account, reason: "invalid_shape" },
    ].sort((a, b) => a.externalId.localeCompare(b.externalId));
    const kept = [...pull.skippedTransactions].sort((a: Json, b: Json) =>
      a.externalId.localeCompare(b.externalId)
    );
    assert.deepEqual(kept, expected);
    const stored = (await w.transactions()).map((t) => t.externalId).sort();
    const skippedIds = new Set(expected.map((e) => e.externalId));
    assert.deepEqual(stored, rows.map((r) => r.id).filter((id) => !skippedIds.has(id)).sort());
    assert.deepEqual(await skippedMetric(w), {
      "pluggy invalid_date": 2,
      "pluggy invalid_created_at": 2,
      "pluggy invalid_amount": 2,
      "pluggy invalid_shape": 1,
    });
    const logs = w.h.logs.join("\n");
    assert.match(logs, /vendor transactions skipped/);
    for (const value of ["2024-13-45", "not-a-date", "12,50"]) {
      assert.ok(!logs.includes(value), `the skipped value ${value} is in no log line`);
    }
  } finally {
    await w.close();
  }
});

Deno.test("malformed Belvo transactions are skipped and counted, the first 20 kept by id", async () => {
  const links = [{ accounts: [{ transactions: 25 }] }];
  const w = await wireBelvo({ links }, { pulls: { wake: false }, metricsToken: METRICS_TOKEN });
  try {
    const account = w.fake.links[0].accounts[0].id;
    const rows: Json[] = w.fake.transactions(w.fake.links[0].id).map((t: Json) => ({ ...t }));
    // Every row but the first two is broken, each in one of three ways.
    const changes: Json[] = [
      { value_date: "2024-02-30" },
      { created_at: "0000-01-01T00:00:00Z" },
      { amount: "1e3" },
    ];
    for (let i = 2; i < rows.length; i++) Object.assign(rows[i], changes[i % 3]);
    w.fake.faults.add({
      path: "/api/transactions/",
      fault: {
        status: 200,
        body: { count: rows.length, next: null, previous: null, results: rows },
      },
    });
    const pull = await requestAndRun(w);
    assert.equal(pull.status, "succeeded", JSON.stringify(pull));
    assert.equal(pull.transactionsUpserted, 2);
    assert.equal(pull.transactionsSkipped, 23);
    assert.equal(pull.skippedTransactions.length, 20, "the first 20 are kept, all are counted");
    for (const s of pull.skippedTransactions) {
      const i = rows.findIndex((r) => r.id === s.externalId);
      assert.ok(i >= 2);
      assert.equal(s.accountId, account);
      assert.equal(s.reason, ["invalid_date", "invalid_created_at", "invalid_amount"][i % 3]);
    }
    const metric = await skippedMetric(w);
    assert.equal(Object.values(metric).reduce((a, b) => a + b, 0), 23);
    assert.deepEqual(Object.keys(metric).sort(), [
      "belvo invalid_amount",
      "belvo invalid_created_at",
      "belvo invalid_date",
    ]);
  } finally {
    await w.close();
  }
});
