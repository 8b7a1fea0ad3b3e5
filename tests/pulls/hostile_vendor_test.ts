// A hostile or broken vendor: huge Retry-After, cycling or endless page links, permanent faults
// and malformed transactions end each pull with a clear outcome, never a crash or an endless run.
import assert from "node:assert/strict";
import type { Aggregators } from "../../src/vendors/clients.ts";
import { testClock, wireBelvo, type Wired, wirePluggy } from "../support/pulls.ts";
import { fakeAggregators, gatedWalks } from "../support/vendors.ts";
import type { Json } from "../support/vendor_calls.ts";

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
