// The Pluggy client against the fake Pluggy over real HTTP: auth, paging, re-auth and every error.
import assert from "node:assert/strict";
import { startFakePluggy } from "../fakes/pluggy.ts";
import {
  allPages,
  checkFailure,
  fakeAggregators,
  vendorFailure,
  walkFailure,
} from "../support/vendors.ts";

const credential = { clientId: "fake-client-id", secret: "fake-client-secret" };

async function setup(options: Parameters<typeof startFakePluggy>[0] = {}) {
  const fake = await startFakePluggy({
    pageSize: 7,
    items: [{
      accounts: [{ type: "BANK", transactions: 23 }, { type: "CREDIT", transactions: 5 }],
    }],
    ...options,
  });
  const item = fake.items[0];
  const bank = item.accounts[0];
  return { fake, itemId: item.id, bankId: bank.id, creditId: item.accounts[1].id };
}

Deno.test("the Pluggy client on the happy path", async (t) => {
  const { fake, itemId, bankId, creditId } = await setup();
  const client = fakeAggregators([fake.host]).client("pluggy", fake.url, credential);
  try {
    await t.step("checks the item after one POST /auth, sending the key as X-API-KEY", async () => {
      await client.check(itemId);
      assert.equal(fake.authCount, 1);
      const auth = fake.requests.find((r) => r.path === "/auth")!;
      assert.equal(auth.method, "POST");
      const item = fake.requests.find((r) => r.path === `/items/${itemId}`)!;
      assert.ok(item.headers.get("x-api-key"));
    });

    await t.step(
      "reuses the cached key for later calls, but a check always authenticates",
      async () => {
        await client.listAccounts(itemId);
        await allPages(client.transactions({ accountRef: itemId, accountId: bankId }));
        assert.equal(fake.authCount, 1);
        await client.check(itemId);
        assert.equal(fake.authCount, 2);
        await client.listAccounts(itemId);
        assert.equal(fake.authCount, 2);
      },
    );

    await t.step("lists the item's accounts", async () => {
      const accounts = await client.listAccounts(itemId);
      assert.deepEqual(accounts.map((a) => a.id).sort(), [bankId, creditId].sort());
      assert.ok(accounts.every((a) => a.currency === "BRL"));
    });

    await t.step("pages through every transaction of an account, following next", async () => {
      fake.resetRequests();
      const pages = await allPages(client.transactions({ accountRef: itemId, accountId: bankId }));
      assert.equal(pages.length, 4); // 23 transactions, 7 a page
      const got = pages.flatMap((p) => p.transactions);
      const want = fake.transactions(bankId);
      assert.deepEqual(got.map((t) => t.id), want.map((t) => t.id));
      assert.equal(pages.at(-1)!.next, null);
      for (const page of pages.slice(0, -1)) assert.ok(page.next!.startsWith(fake.url));
      assert.equal(fake.requests.filter((r) => r.path === "/v2/transactions").length, 4);
    });

    await t.step("normalizes direction from type and signs the amount by it", async () => {
      const [page] = await allPages(client.transactions({ accountRef: itemId, accountId: bankId }));
      for (const [i, t] of page.transactions.entries()) {
        const raw = fake.transactions(bankId)[i];
        assert.equal(t.direction, raw.type === "DEBIT" ? "debit" : "credit");
        assert.equal(
          Number(t.amount),
          raw.type === "DEBIT" ? -Math.abs(raw.amount) : Math.abs(raw.amount),
        );
        assert.equal(t.accountId, bankId);
        assert.match(t.date, /^\d{4}-\d{2}-\d{2}$/);
        assert.equal(t.createdAt, raw.createdAt);
        assert.equal(t.raw.id, raw.id);
      }
    });

    await t.step("resumes from a page's next link", async () => {
      const [first] = await allPages(
        (async function* () {
          for await (const p of client.transactions({ accountRef: itemId, accountId: bankId })) {
            yield p;
            return;
          }
        })(),
      );
      const rest = await allPages(
        client.transactions({ accountRef: itemId, accountId: bankId, resumeFrom: first.next! }),
      );
      const ids = [...first.transactions, ...rest.flatMap((p) => p.transactions)].map((t) => t.id);
      assert.deepEqual(ids, fake.transactions(bankId).map((t) => t.id));
    });

    await t.step("asks only for transactions created from the given instant", async () => {
      const all = fake.transactions(bankId);
      const from = all[10].createdAt;
      const pages = await allPages(
        client.transactions({ accountRef: itemId, accountId: bankId, createdFrom: from }),
      );
      const ids = pages.flatMap((p) => p.transactions.map((t) => t.id));
      assert.deepEqual(ids, all.filter((t) => t.createdAt >= from).map((t) => t.id));
      const sent = fake.requests.findLast((r) => r.path === "/v2/transactions")!;
      assert.ok(sent.query.get("createdAtFrom") || sent.query.get("after"));
    });

    await t.step(
      "a transaction fetched by id that cannot be stored is skipped, not fatal",
      async () => {
        const [first, second] = fake.transactions(bankId);
        fake.faults.add({
          path: "/transactions",
          fault: {
            status: 200,
            body: {
              results: [first, { ...second, createdAt: "not-a-date" }],
              page: 1,
              totalPages: 1,
            },
          },
        });
        const [page] = await allPages(client.transactionsByIds({
          accountRef: itemId,
          accountId: bankId,
          ids: [first.id, second.id],
        }));
        assert.deepEqual(page.transactions.map((t) => t.id), [first.id]);
        assert.deepEqual(page.skipped, [
          { id: second.id, accountId: bankId, reason: "invalid_created_at" },
        ]);
      },
    );

    await t.step("fetches transactions by ids, at most 500 ids a call", async () => {
      const wanted = fake.transactions(bankId).slice(0, 3).map((t) => t.id);
      const missing = Array.from({ length: 600 }, () => crypto.randomUUID());
      fake.resetRequests();
      const pages = await allPages(
        client.transactionsByIds({
          accountRef: itemId,
          accountId: bankId,
          ids: [...wanted, ...missing],
        }),
      );
      assert.deepEqual(pages.flatMap((p) => p.transactions.map((t) => t.id)).sort(), wanted.sort());
      const calls = fake.requests.filter((r) => r.path === "/transactions");
      assert.equal(calls.length, 2);
      for (const call of calls) assert.ok(call.query.get("ids")!.split(",").length <= 500);
    });
  } finally {
    await fake.close();
  }
});

Deno.test("the Pluggy client re-authenticates once when its key stops working", async (t) => {
  const { fake, itemId } = await setup();
  const client = fakeAggregators([fake.host]).client("pluggy", fake.url, credential);
  try {
    await t.step("an expired key is replaced after a 401 and the call succeeds", async () => {
      await client.listAccounts(itemId);
      fake.expireApiKeys();
      await client.listAccounts(itemId);
      assert.equal(fake.authCount, 2);
    });
    await t.step(
      "a second 401 in a row is credentials_rejected, after one re-auth only",
      async () => {
        fake.faults.add({ path: "/accounts", times: 2, fault: { status: 401 } });
        const before = fake.authCount;
        const err = await vendorFailure(client.listAccounts(itemId));
        assert.equal(err.kind, "credentials_rejected");
        assert.equal(fake.authCount, before + 1);
      },
    );
  } finally {
    await fake.close();
  }
});

Deno.test("the Pluggy key is cached until shortly before its exp", async () => {
  const { fake, itemId } = await setup({ apiKeyTtlSeconds: 3600 });
  let clock = Date.now();
  const client = fakeAggregators([fake.host], { now: () => clock }).client(
    "pluggy",
    fake.url,
    credential,
  );
  try {
    await client.listAccounts(itemId);
    clock += 3600_000 - 6 * 60_000; // six minutes before exp: still cached
    await client.listAccounts(itemId);
    assert.equal(fake.authCount, 1);
    clock += 2 * 60_000; // four minutes before exp: renewed ahead of time
    await client.listAccounts(itemId);
    assert.equal(fake.authCount, 2);
  } finally {
    await fake.close();
  }
});

Deno.test("concurrent calls with a cold cache share one POST /auth", async () => {
  const { fake, itemId } = await setup();
  const client = fakeAggregators([fake.host]).client("pluggy", fake.url, credential);
  try {
    await Promise.all(Array.from({ length: 5 }, () => client.listAccounts(itemId)));
    assert.equal(fake.authCount, 1);
  } finally {
    await fake.close();
  }
});

Deno.test("every Pluggy failure is classified", async (t) => {
  const { fake, itemId, bankId } = await setup();
  const aggregators = fakeAggregators([fake.host], { connectTimeoutMs: 300, timeoutMs: 600 });
  const client = aggregators.client("pluggy", fake.url, credential);
  const items = `/items/${itemId}`;
  try {
    await t.step("wrong client keys: credentials_rejected with the vendor's code", async () => {
      const wrong = aggregators.client("pluggy", fake.url, { clientId: "x", secret: "y" });
      const err = await vendorFailure(wrong.check(itemId));
      assert.equal(err.kind, "credentials_rejected");
      assert.equal(err.details.vendorCode, "CLIENT_KEYS_UNAUTHORIZED");
      assert.doesNotMatch(err.message, /invalid/i); // our words, not the vendor's
    });
    await t.step("an unknown item: not_found", async () => {
      assert.deepEqual(await checkFailure(client, crypto.randomUUID()), {
        kind: "not_found",
        reason: "account_not_found",
      });
    });
    await t.step("429 carries Retry-After, and the next call succeeds", async () => {
      fake.faults.add({ path: items, fault: { status: 429, headers: { "Retry-After": "7" } } });
      const err = await vendorFailure(client.check(itemId));
      assert.equal(err.kind, "rate_limited");
      assert.equal(err.details.retryAfterMs, 7000);
      assert.equal(err.retryable, true);
      await client.check(itemId);
    });
    await t.step("5xx: transient", async () => {
      fake.faults.add({ path: items, fault: { status: 503 } });
      assert.deepEqual(await checkFailure(client, itemId), {
        kind: "transient",
        reason: "vendor_unreachable",
      });
    });
    await t.step("another 4xx: permanent", async () => {
      fake.faults.add({ path: items, fault: { status: 400 } });
      assert.deepEqual(await checkFailure(client, itemId), {
        kind: "permanent",
        reason: "unexpected_response",
      });
    });
    await t.step("a slow answer: timeout", async () => {
      fake.faults.add({ path: items, fault: { delayMs: 1_500 } });
      assert.deepEqual(await checkFailure(client, itemId), {
        kind: "transient",
        reason: "timeout",
      });
    });
    await t.step("a connection dropped mid-body: transient", async () => {
      fake.faults.add({ path: items, fault: { reset: true } });
      assert.deepEqual(await checkFailure(client, itemId), {
        kind: "transient",
        reason: "vendor_unreachable",
      });
    });
    for (const fault of [{ truncate: true }, { malformed: true }, { wrongShape: true }] as const) {
      await t.step(`${Object.keys(fault)[0]} JSON: unexpected_response, no crash`, async () => {
        fake.faults.add({ path: "/v2/transactions", fault });
        const err = await vendorFailure(
          allPages(client.transactions({ accountRef: itemId, accountId: bankId })),
        );
        assert.equal(err.reason, "unexpected_response");
        assert.equal(err.kind, "transient");
      });
    }
    await t.step("an oversized answer: transient (a glitch may pass)", async () => {
      fake.faults.add({ path: "/v2/transactions", fault: { oversizeBytes: 9 * 1024 * 1024 } });
      const err = await vendorFailure(
        allPages(client.transactions({ accountRef: itemId, accountId: bankId })),
      );
      assert.equal(err.kind, "transient");
      assert.match(err.message, /over \d+ bytes/);
    });
    await t.step("a redirect is not followed", async () => {
      fake.faults.add({ path: items, fault: { redirect: `${fake.url}/items/${itemId}` } });
      assert.deepEqual(await checkFailure(client, itemId), {
        kind: "permanent",
        reason: "unexpected_response",
      });
    });
    await t.step("a 404 from /auth means a wrong base URL, not a missing item", async () => {
      const fresh = fakeAggregators([fake.host]).client("pluggy", fake.url, credential);
      fake.faults.add({ path: "/auth", fault: { status: 404 } });
      assert.deepEqual(await checkFailure(fresh, itemId), {
        kind: "permanent",
        reason: "unexpected_response",
      });
    });
  } finally {
    await fake.close();
  }
});

Deno.test("a next link or resume point on another origin is an error, not a request", async (t) => {
  const { fake, itemId, bankId } = await setup();
  const other = await startFakePluggy();
  const client = fakeAggregators([fake.host, other.host]).client("pluggy", fake.url, credential);
  const elsewhere = `${other.url}/v2/transactions?accountId=${bankId}&after=x`;
  try {
    await t.step("a next link", async () => {
      fake.faults.add({
        path: "/v2/transactions",
        fault: { status: 200, body: { results: [], next: elsewhere } },
      });
      const err = await vendorFailure(
        allPages(client.transactions({ accountRef: itemId, accountId: bankId })),
      );
      assert.equal(err.kind, "permanent");
      assert.match(err.message, /origin/);
    });
    await t.step("a resume point", async () => {
      const err = await vendorFailure(
        allPages(
          client.transactions({ accountRef: itemId, accountId: bankId, resumeFrom: elsewhere }),
        ),
      );
      assert.equal(err.kind, "permanent");
      assert.match(err.message, /origin/);
    });
    assert.deepEqual(other.requests, []);
  } finally {
    await fake.close();
    await other.close();
  }
});

Deno.test("a next link that points back at the same page ends the walk with an error", async () => {
  const { fake, itemId, bankId } = await setup();
  const client = fakeAggregators([fake.host]).client("pluggy", fake.url, credential);
  try {
    const loop = `${fake.url}/v2/transactions?accountId=${bankId}&after=same`;
    fake.faults.add({
      path: "/v2/transactions",
      times: 3, // a client that kept following would fail the test, not hang it
      fault: { status: 200, body: { results: [], next: loop } },
    });
    const err = await walkFailure(
      allPages(client.transactions({ accountRef: itemId, accountId: bankId, resumeFrom: loop })),
    );
    assert.equal(err.reason, "page_cycle");
    assert.equal(fake.requests.filter((r) => r.path === "/v2/transactions").length, 1);
  } finally {
    await fake.close();
  }
});

Deno.test("a next link that carries only the cursor keeps the walk on the account and filter", async () => {
  const { fake, itemId, bankId } = await setup();
  const client = fakeAggregators([fake.host]).client("pluggy", fake.url, credential);
  try {
    const from = fake.transactions(bankId)[5].createdAt;
    const first = await allPages(
      client.transactions({ accountRef: itemId, accountId: bankId, createdFrom: from }),
    );
    // The same walk again, with each next link reduced to its cursor, as the SDK reads it.
    fake.resetRequests();
    const bare = new URL(first[0].next!);
    const cursorOnly = `${fake.url}/v2/transactions?after=${bare.searchParams.get("after")}`;
    const rest = await allPages(
      client.transactions({
        accountRef: itemId,
        accountId: bankId,
        createdFrom: from,
        resumeFrom: cursorOnly,
      }),
    );
    const sent = fake.requests.find((r) => r.path === "/v2/transactions")!;
    assert.equal(sent.query.get("accountId"), bankId);
    assert.equal(sent.query.get("createdAtFrom"), from);
    assert.deepEqual(
      rest.flatMap((p) => p.transactions.map((t) => t.id)),
      first.slice(1).flatMap((p) => p.transactions.map((t) => t.id)),
    );
  } finally {
    await fake.close();
  }
});

Deno.test("a cached key never serves another credential with the same client id", async () => {
  const { fake, itemId } = await setup();
  const aggregators = fakeAggregators([fake.host]);
  try {
    await aggregators.client("pluggy", fake.url, credential).listAccounts(itemId);
    fake.resetRequests();
    const impostor = aggregators.client("pluggy", fake.url, { ...credential, secret: "guessed" });
    const err = await vendorFailure(impostor.listAccounts(itemId));
    assert.equal(err.kind, "credentials_rejected");
    assert.deepEqual(fake.requests.map((r) => r.path), ["/auth"]);
  } finally {
    await fake.close();
  }
});

Deno.test("ids are split 500 a call with none lost at the boundary", async () => {
  const { fake, itemId, bankId } = await setup();
  const client = fakeAggregators([fake.host]).client("pluggy", fake.url, credential);
  try {
    const real = fake.transactions(bankId).map((t) => t.id);
    const ids: string[] = Array.from({ length: 1001 }, () => crypto.randomUUID());
    ids[499] = real[0];
    ids[500] = real[1];
    ids[1000] = real[2];
    const pages = await allPages(
      client.transactionsByIds({ accountRef: itemId, accountId: bankId, ids }),
    );
    assert.deepEqual(
      pages.flatMap((p) => p.transactions.map((t) => t.id)).sort(),
      real.slice(0, 3).sort(),
    );
    const sent = fake.requests.filter((r) => r.path === "/transactions")
      .flatMap((r) => r.query.get("ids")!.split(","));
    assert.deepEqual(sent, ids);
  } finally {
    await fake.close();
  }
});

Deno.test("an empty page ends a numbered list whatever totalPages says", async () => {
  const { fake, itemId } = await setup();
  const client = fakeAggregators([fake.host]).client("pluggy", fake.url, credential);
  try {
    fake.faults.add({
      path: "/accounts",
      times: 5,
      fault: { status: 200, body: { results: [], page: 1, total: 0, totalPages: 5 } },
    });
    assert.deepEqual(await client.listAccounts(itemId), []);
    assert.equal(fake.requests.filter((r) => r.path === "/accounts").length, 1);
  } finally {
    await fake.close();
  }
});

Deno.test("Pluggy transactions: pending status, and the sign decides only for an unknown type", async () => {
  const { fake, itemId, bankId } = await setup();
  const client = fakeAggregators([fake.host]).client("pluggy", fake.url, credential);
  const base = {
    accountId: bankId,
    date: "2026-11-02T03:00:00.000Z",
    createdAt: "2026-11-02T10:00:00.000Z",
  };
  try {
    fake.faults.add({
      path: "/v2/transactions",
      fault: {
        status: 200,
        body: {
          results: [
            { ...base, id: "t1", type: "DEBIT", amount: 12.5, status: "PENDING" },
            { ...base, id: "t2", type: "CREDIT", amount: -3, status: "POSTED" },
            { ...base, id: "t3", type: "TRANSFER", amount: -5, status: null, newField: 1 },
            { ...base, id: "t4", type: "TRANSFER", amount: 7 },
          ],
          next: null,
        },
      },
    });
    const [page] = await allPages(client.transactions({ accountRef: itemId, accountId: bankId }));
    assert.deepEqual(
      page.transactions.map((t) => [t.id, t.direction, t.amount, t.status, t.date]),
      [
        ["t1", "debit", "-12.5", "pending", "2026-11-02"],
        ["t2", "credit", "3", "posted", "2026-11-02"],
        ["t3", "debit", "-5", "posted", "2026-11-02"],
        ["t4", "credit", "7", "posted", "2026-11-02"],
      ],
    );
    assert.equal(page.transactions[2].raw.newField, 1, "unknown fields are kept in raw");
  } finally {
    await fake.close();
  }
});

Deno.test("a Pluggy walk is refused at a link back to any page it read, or past the page cap", async (t) => {
  const { fake, itemId, bankId } = await setup();
  try {
    await t.step("A → B → A: B's link back to the first page is never requested", async () => {
      const client = fakeAggregators([fake.host]).client("pluggy", fake.url, credential);
      fake.faults.add({
        path: "/v2/transactions",
        times: 10, // a client that kept following would fail the test, not hang it
        fault: {
          next: (req, next) => {
            if (!req.searchParams.has("after")) return next;
            const first = new URL(req);
            first.searchParams.delete("after");
            return first.href;
          },
        },
      });
      fake.resetRequests();
      const err = await walkFailure(
        allPages(client.transactions({ accountRef: itemId, accountId: bankId })),
      );
      assert.equal(err.reason, "page_cycle");
      assert.equal(fake.requests.filter((r) => r.path === "/v2/transactions").length, 2);
      fake.faults.clear();
    });
    await t.step("an account list whose totalPages never ends stops at the cap", async () => {
      const client = fakeAggregators([fake.host], { maxPagesPerWalk: 5 })
        .client("pluggy", fake.url, credential);
      const account = fake.accounts(itemId)[0];
      fake.faults.add({
        path: "/accounts",
        times: 10,
        fault: { status: 200, body: { results: [account], page: 1, totalPages: 1e9 } },
      });
      fake.resetRequests();
      const err = await walkFailure(client.listAccounts(itemId));
      assert.equal(err.reason, "too_many_pages");
      assert.equal(fake.requests.filter((r) => r.path === "/accounts").length, 5);
      fake.faults.clear();
    });
    await t.step("a resumed walk counts the pages read before it", async () => {
      const uncapped = fakeAggregators([fake.host]).client("pluggy", fake.url, credential);
      const capped = fakeAggregators([fake.host], { maxPagesPerWalk: 3 })
        .client("pluggy", fake.url, credential);
      // 23 transactions, 7 a page: 4 pages. Resumed after the first, 3 pages are left.
      const pages = await allPages(
        uncapped.transactions({ accountRef: itemId, accountId: bankId }),
      );
      assert.equal(pages.length, 4);
      const resume = { accountRef: itemId, accountId: bankId, resumeFrom: pages[0].next! };
      assert.equal((await allPages(capped.transactions(resume))).length, 3);
      const err = await walkFailure(allPages(capped.transactions({ ...resume, pagesBefore: 1 })));
      assert.equal(err.reason, "too_many_pages");
    });
  } finally {
    await fake.close();
  }
});
