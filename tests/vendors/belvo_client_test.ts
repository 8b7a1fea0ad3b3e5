// The Belvo client against the fake Belvo over real HTTP: Basic auth, paging and every error.
import assert from "node:assert/strict";
import { startFakeBelvo } from "../fakes/belvo.ts";
import {
  allPages,
  checkFailure,
  fakeAggregators,
  vendorFailure,
  walkFailure,
} from "../support/vendors.ts";

const credential = { clientId: "fake-secret-id", secret: "fake-secret-password" };
const basic = "Basic " + btoa(`${credential.clientId}:${credential.secret}`);

async function setup(options: Parameters<typeof startFakeBelvo>[0] = {}) {
  const fake = await startFakeBelvo({
    links: [{ accounts: [{ transactions: 2_345 }, { transactions: 4 }] }],
    ...options,
  });
  const link = fake.links[0];
  return {
    fake,
    linkId: link.id,
    accountId: link.accounts[0].id,
    otherId: link.accounts[1]?.id ?? "",
  };
}

Deno.test("the Belvo client on the happy path", async (t) => {
  const { fake, linkId, accountId, otherId } = await setup();
  const client = fakeAggregators([fake.host]).client("belvo", fake.url, credential);
  try {
    await t.step("checks the link with HTTP Basic", async () => {
      await client.check(linkId);
      const call = fake.requests.find((r) => r.path === `/api/links/${linkId}/`)!;
      assert.equal(call.headers.get("authorization"), basic);
    });

    await t.step("lists the link's accounts", async () => {
      const accounts = await client.listAccounts(linkId);
      assert.deepEqual(accounts.map((a) => a.id).sort(), [accountId, otherId].sort());
    });

    await t.step("pages through an account's transactions 1000 at a time", async () => {
      fake.resetRequests();
      const pages = await allPages(client.transactions({ accountRef: linkId, accountId }));
      assert.equal(pages.length, 3);
      const want = fake.transactions(linkId).filter((t) => t.account.id === accountId);
      assert.deepEqual(
        pages.flatMap((p) => p.transactions.map((t) => t.id)),
        want.map((t) => t.id),
      );
      const calls = fake.requests.filter((r) => r.path === "/api/transactions/");
      assert.equal(calls.length, 3);
      assert.equal(calls[0].query.get("page_size"), "1000");
      assert.equal(calls[0].query.get("link"), linkId);
      assert.ok(calls.every((c) => c.headers.get("authorization") === basic));
    });

    await t.step("normalizes amounts: always positive at Belvo, signed by type here", async () => {
      const [page] = await allPages(
        client.transactions({ accountRef: linkId, accountId: otherId }),
      );
      const raw = fake.transactions(linkId).filter((t) => t.account.id === otherId);
      for (const [i, t] of page.transactions.entries()) {
        const outflow = raw[i].type === "OUTFLOW";
        assert.equal(t.direction, outflow ? "debit" : "credit");
        assert.equal(Number(t.amount), outflow ? -raw[i].amount : raw[i].amount);
        assert.equal(t.date, raw[i].value_date);
        assert.equal(t.accountId, otherId);
      }
    });

    await t.step("filters by creation date from the watermark's day", async () => {
      const all = fake.transactions(linkId).filter((t) => t.account.id === otherId);
      const from = all[2].created_at;
      const pages = await allPages(
        client.transactions({ accountRef: linkId, accountId: otherId, createdFrom: from }),
      );
      const sent = fake.requests.findLast((r) => r.path === "/api/transactions/")!;
      assert.equal(sent.query.get("created_at__gte"), from.slice(0, 10));
      const ids = pages.flatMap((p) => p.transactions.map((t) => t.id));
      for (const t of all.filter((t) => t.created_at >= from)) assert.ok(ids.includes(t.id));
    });

    await t.step("fetches transactions by id, skipping the ones gone, 100 a page", async () => {
      const wanted = fake.transactions(linkId).slice(0, 150);
      const ids = [...wanted.map((t) => t.id), crypto.randomUUID()];
      const pages = await allPages(client.transactionsByIds({ accountRef: linkId, ids }));
      assert.deepEqual(pages.map((p) => p.transactions.length), [100, 50]);
      const got = pages.flatMap((p) => p.transactions);
      assert.deepEqual(got.map((t) => t.id), wanted.map((t) => t.id));
      assert.deepEqual(got.map((t) => t.accountId), wanted.map((t) => t.account.id));
    });

    await t.step(
      "a transaction fetched by id that cannot be stored is skipped, not fatal",
      async () => {
        const [first, second, third] = fake.transactions(linkId);
        fake.faults.add({
          path: `/api/transactions/${second.id}/`,
          fault: { status: 200, body: { ...second, value_date: "2024-13-45" } },
        });
        const pages = await allPages(client.transactionsByIds({
          accountRef: linkId,
          accountId,
          ids: [first.id, second.id, third.id],
        }));
        assert.deepEqual(pages.flatMap((p) => p.transactions.map((t) => t.id)), [
          first.id,
          third.id,
        ]);
        assert.deepEqual(pages.flatMap((p) => p.skipped), [
          { id: second.id, accountId, reason: "invalid_date" },
        ]);
      },
    );

    await t.step("a failure other than not-found stops a fetch by id", async () => {
      const [first, second] = fake.transactions(linkId);
      fake.faults.add({ path: `/api/transactions/${second.id}/`, fault: { status: 500 } });
      const err = await vendorFailure(
        allPages(client.transactionsByIds({ accountRef: linkId, ids: [first.id, second.id] })),
      );
      assert.equal(err.kind, "transient");
    });
  } finally {
    await fake.close();
  }
});

Deno.test("every Belvo failure is classified", async (t) => {
  const { fake, linkId, accountId } = await setup({ links: [{ accounts: [{ transactions: 3 }] }] });
  const aggregators = fakeAggregators([fake.host], { connectTimeoutMs: 300, timeoutMs: 600 });
  const client = aggregators.client("belvo", fake.url, credential);
  const link = `/api/links/${linkId}/`;
  try {
    await t.step(
      "wrong secrets: credentials_rejected, code read from the error array",
      async () => {
        const wrong = aggregators.client("belvo", fake.url, { clientId: "a", secret: "b" });
        const err = await vendorFailure(wrong.check(linkId));
        assert.equal(err.kind, "credentials_rejected");
        assert.equal(err.details.vendorCode, "authentication_failed");
      },
    );
    await t.step("an unknown link: not_found", async () => {
      const err = await vendorFailure(client.check(crypto.randomUUID()));
      assert.equal(err.kind, "not_found");
      assert.equal(err.details.vendorCode, "not_found");
    });
    await t.step("429, then success", async () => {
      fake.faults.add({ path: link, fault: { status: 429, headers: { "Retry-After": "3" } } });
      const err = await vendorFailure(client.check(linkId));
      assert.equal(err.kind, "rate_limited");
      assert.equal(err.details.retryAfterMs, 3000);
      await client.check(linkId);
    });
    await t.step("429 without Retry-After leaves the wait to the caller", async () => {
      fake.faults.add({ path: link, fault: { status: 429, headers: {} } });
      const err = await vendorFailure(client.check(linkId));
      assert.equal(err.kind, "rate_limited");
    });
    await t.step("5xx: transient", async () => {
      fake.faults.add({ path: link, fault: { status: 500 } });
      assert.deepEqual(await checkFailure(client, linkId), {
        kind: "transient",
        reason: "vendor_unreachable",
      });
    });
    await t.step("a slow answer: timeout", async () => {
      fake.faults.add({ path: link, fault: { delayMs: 1_500 } });
      assert.deepEqual(await checkFailure(client, linkId), {
        kind: "transient",
        reason: "timeout",
      });
    });
    for (const fault of [{ truncate: true }, { malformed: true }, { wrongShape: true }] as const) {
      await t.step(`${Object.keys(fault)[0]} JSON: unexpected_response`, async () => {
        fake.faults.add({ path: "/api/transactions/", fault });
        const err = await vendorFailure(
          allPages(client.transactions({ accountRef: linkId, accountId })),
        );
        assert.equal(err.reason, "unexpected_response");
      });
    }
    await t.step("an oversized answer: transient (a glitch may pass)", async () => {
      fake.faults.add({ path: "/api/transactions/", fault: { oversizeBytes: 9 * 1024 * 1024 } });
      const err = await vendorFailure(
        allPages(client.transactions({ accountRef: linkId, accountId })),
      );
      assert.equal(err.kind, "transient");
    });
  } finally {
    await fake.close();
  }
});

Deno.test("a Belvo next link or resume point on another origin is refused before it is requested", async (t) => {
  const { fake, linkId, accountId } = await setup({ links: [{ accounts: [{ transactions: 3 }] }] });
  const other = await startFakeBelvo();
  const client = fakeAggregators([fake.host, other.host]).client("belvo", fake.url, credential);
  const elsewhere = `${other.url}/api/transactions/?link=${linkId}&page=2`;
  try {
    await t.step("a next link", async () => {
      fake.faults.add({
        path: "/api/transactions/",
        fault: { status: 200, body: { count: 9, next: elsewhere, previous: null, results: [] } },
      });
      const err = await vendorFailure(
        allPages(client.transactions({ accountRef: linkId, accountId })),
      );
      assert.match(err.message, /origin/);
    });
    await t.step("a resume point", async () => {
      const err = await vendorFailure(
        allPages(client.transactions({ accountRef: linkId, accountId, resumeFrom: elsewhere })),
      );
      assert.match(err.message, /origin/);
    });
    assert.deepEqual(other.requests, []);
  } finally {
    await fake.close();
    await other.close();
  }
});

Deno.test("a Belvo next link that repeats the page is refused instead of looping", async () => {
  const { fake, linkId, accountId } = await setup({ links: [{ accounts: [{ transactions: 3 }] }] });
  const client = fakeAggregators([fake.host]).client("belvo", fake.url, credential);
  try {
    const loop = `${fake.url}/api/transactions/?link=${linkId}&page=2`;
    fake.faults.add({
      path: "/api/transactions/",
      times: 3, // a client that kept following would fail the test, not hang it
      fault: { status: 200, body: { count: 9, next: loop, previous: null, results: [] } },
    });
    const err = await walkFailure(
      allPages(client.transactions({ accountRef: linkId, accountId, resumeFrom: loop })),
    );
    assert.equal(err.reason, "page_cycle");
  } finally {
    await fake.close();
  }
});

Deno.test("Belvo transactions: pending status, direction from type, amounts as text", async () => {
  const { fake, linkId, accountId } = await setup({ links: [{ accounts: [{ transactions: 1 }] }] });
  const client = fakeAggregators([fake.host]).client("belvo", fake.url, credential);
  const base = {
    account: { id: accountId },
    value_date: "2026-11-02",
    created_at: "2026-11-02T10:00:00Z",
  };
  try {
    fake.faults.add({
      path: "/api/transactions/",
      fault: {
        status: 200,
        body: {
          count: 4,
          next: null,
          previous: null,
          results: [
            { ...base, id: "b1", amount: 12.5, type: "OUTFLOW", status: "PENDING" },
            { ...base, id: "b2", amount: "3.10", type: "INFLOW", status: "PROCESSED" },
            { ...base, id: "b3", amount: 4, type: null, status: null, extra: true },
          ],
        },
      },
    });
    const [page] = await allPages(client.transactions({ accountRef: linkId, accountId }));
    assert.deepEqual(
      page.transactions.map((t) => [t.id, t.direction, t.amount, t.status, t.date]),
      [
        ["b1", "debit", "-12.5", "pending", "2026-11-02"],
        ["b2", "credit", "3.1", "posted", "2026-11-02"],
        ["b3", "credit", "4", "posted", "2026-11-02"],
      ],
    );
    fake.faults.add({
      path: "/api/transactions/",
      fault: {
        status: 200,
        body: { next: null, results: [{ ...base, id: "b4", amount: "1" + "0".repeat(40) }] },
      },
    });
    // An absurd amount is a row skipped, not a crash, nor a page refused.
    const [absurd] = await allPages(client.transactions({ accountRef: linkId, accountId }));
    assert.deepEqual(absurd.transactions, []);
    assert.deepEqual(absurd.skipped, [{ id: "b4", accountId, reason: "invalid_amount" }]);
  } finally {
    await fake.close();
  }
});

Deno.test("a Belvo account list whose links cycle is refused, as a transaction walk is", async () => {
  const { fake, linkId } = await setup();
  const client = fakeAggregators([fake.host]).client("belvo", fake.url, credential);
  try {
    // The first page links to `page=1` (the same page under another link), which links back.
    fake.faults.add({
      path: "/api/accounts/",
      times: 10, // a client that kept following would fail the test, not hang it
      fault: {
        next: (req) => {
          const other = new URL(req);
          if (other.searchParams.get("page") === "1") other.searchParams.delete("page");
          else other.searchParams.set("page", "1");
          return other.href;
        },
      },
    });
    const err = await walkFailure(client.listAccounts(linkId));
    assert.equal(err.reason, "page_cycle");
    assert.equal(fake.requests.filter((r) => r.path === "/api/accounts/").length, 2);
  } finally {
    await fake.close();
  }
});
