// The fake Pluggy's own behaviour: auth, error bodies, 400s, paging, key expiry and mutators.
import assert from "node:assert/strict";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { startFakePluggy } from "./pluggy.ts";
import { getJson, pluggyKey, withPluggy } from "../support/vendor_calls.ts";

Deno.test("Pluggy's auth and error bodies have the vendor's shapes", async (t) => {
  await withPluggy({
    clients: [{ clientId: "fake-client-id", clientSecret: "fake-client-secret" }],
  }, async (fake) => {
    const post = (body: string) =>
      fetch(`${fake.url}/auth`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      })
        .then(async (r) => ({ status: r.status, body: await r.json() }));

    await t.step(
      "the apiKey is an HS256 JWT with iat, exp = iat + ttl and a unique jti",
      async () => {
        const [a, b] = [await pluggyKey(fake), await pluggyKey(fake)];
        assert.equal(decodeProtectedHeader(a).alg, "HS256");
        const claims = decodeJwt(a);
        assert.equal(claims.exp! - claims.iat!, 7200);
        assert.notEqual(claims.jti, decodeJwt(b).jti);
        assert.equal(fake.authCount, 2);
      },
    );

    await t.step("nonExpiring keys carry no exp", async () => {
      const res = await post(
        JSON.stringify({
          clientId: "fake-client-id",
          clientSecret: "fake-client-secret",
          nonExpiring: true,
        }),
      );
      assert.equal(decodeJwt(res.body.apiKey).exp, undefined);
    });

    await t.step("bad keys get 401 CLIENT_KEYS_UNAUTHORIZED and bad bodies 400", async () => {
      assert.deepEqual(await post(JSON.stringify({ clientId: "x", clientSecret: "y" })), {
        status: 401,
        body: {
          code: 401,
          codeDescription: "CLIENT_KEYS_UNAUTHORIZED",
          message: "Client keys are invalid",
        },
      });
      assert.equal((await post("{not json")).status, 400);
      assert.deepEqual((await post("{}")).body, {
        code: 400,
        message: "clientId and clientSecret are required",
      });
    });

    await t.step("calls without a valid key get 401 {code, message}", async () => {
      const itemUrl = `${fake.url}/items/${fake.items[0].id}`;
      const expected = { code: 401, message: "Missing or invalid API key" };
      for (const headers of [{}, { "x-api-key": "garbage" }] as Record<string, string>[]) {
        const res = await getJson(itemUrl, headers);
        assert.deepEqual([res.status, res.body], [401, expected]);
      }
      const other = await startFakePluggy();
      try {
        const res = await getJson(itemUrl, { "x-api-key": await pluggyKey(other) });
        assert.equal(res.status, 401, "a key signed by another fake is refused");
      } finally {
        await other.close();
      }
    });

    await t.step("unknown ids get 404 with a message", async () => {
      const key = { "x-api-key": await pluggyKey(fake) };
      const id = crypto.randomUUID();
      assert.deepEqual((await getJson(`${fake.url}/items/${id}`, key)).body, {
        code: 404,
        message: "Item not found",
      });
      assert.equal((await getJson(`${fake.url}/accounts/${id}`, key)).status, 404);
      assert.equal((await getJson(`${fake.url}/transactions/${id}`, key)).status, 404);
      assert.equal((await getJson(`${fake.url}/transactions?accountId=${id}`, key)).status, 404);
    });
  });
});

Deno.test("Pluggy answers 400 to the queries its docs rule out", async () => {
  await withPluggy({}, async (fake) => {
    const key = { "x-api-key": await pluggyKey(fake) };
    const accountId = fake.items[0].accounts[0].id;
    const ids = (n: number) => Array.from({ length: n }, () => crypto.randomUUID()).join(",");
    const cases = [
      "/accounts",
      "/accounts?itemId=x&type=SAVINGS",
      "/v2/transactions",
      `/v2/transactions?accountId=${accountId}&dateFrom=2024-01-01&createdAtFrom=2024-01-01T00:00:00.000Z`,
      `/v2/transactions?accountId=${accountId}&after=not-a-cursor`,
      `/v2/transactions?accountId=${accountId}&dateFrom=yesterday`,
      "/transactions",
      `/transactions?accountId=${accountId}&pageSize=501`,
      `/transactions?accountId=${accountId}&pageSize=0`,
      `/transactions?accountId=${accountId}&page=0`,
      `/transactions?ids=${ids(501)}`,
    ];
    for (const path of cases) {
      const res = await getJson(`${fake.url}${path}`, key);
      assert.equal(res.status, 400, path);
      assert.equal(res.body.code, 400, path);
      assert.equal(typeof res.body.message, "string", path);
    }
    assert.equal(
      (await getJson(`${fake.url}/transactions?accountId=${accountId}&pageSize=500`, key)).status,
      200,
    );
    assert.equal((await getJson(`${fake.url}/transactions?ids=${ids(500)}`, key)).status, 200);
  });
});

Deno.test("Pluggy's listings page as documented", async (t) => {
  await withPluggy({ pageSize: 4 }, async (fake) => {
    const key = { "x-api-key": await pluggyKey(fake) };
    const accountId = fake.items[0].accounts[0].id;
    const all = fake.transactions(accountId);

    await t.step("GET /transactions starts at page 1 with 20 a page", async () => {
      const first = await getJson(`${fake.url}/transactions?accountId=${accountId}`, key);
      assert.deepEqual(first.body, {
        total: 25,
        totalPages: 2,
        page: 1,
        results: all.slice(0, 20),
      });
      const second = await getJson(`${fake.url}/transactions?accountId=${accountId}&page=2`, key);
      assert.deepEqual(second.body.results, all.slice(20));
    });

    await t.step(
      "/v2 `next` is an absolute URL on the fake carrying the filters and a cursor",
      async () => {
        const from = all[10].createdAt;
        let next: string | null =
          `${fake.url}/v2/transactions?accountId=${accountId}&createdAtFrom=${from}`;
        const seen = [];
        while (next) {
          const page = await getJson(next, key);
          assert.equal(page.status, 200);
          seen.push(...page.body.results);
          next = page.body.next;
          if (next) {
            const url = new URL(next);
            assert.equal(url.origin + url.pathname, `${fake.url}/v2/transactions`);
            assert.equal(url.searchParams.get("createdAtFrom"), from);
            assert.match(url.searchParams.get("after")!, /^[A-Za-z0-9_-]+$/);
          }
        }
        assert.deepEqual(
          seen,
          all.filter((tx) => tx.createdAt >= from),
          "createdAtFrom is inclusive",
        );
        assert.ok(seen.length > 4);
      },
    );

    await t.step("the list is ordered by createdAt, then id", () => {
      const keys = all.map((tx) => `${tx.createdAt} ${tx.id}`);
      assert.deepEqual(keys, [...keys].sort());
      assert.ok(all.some((tx, i) => i > 0 && tx.createdAt === all[i - 1].createdAt), "ties exist");
    });

    await t.step("dateFrom/dateTo filter on the booking date, whole days", async () => {
      const day = all[5].date.slice(0, 10);
      const res = await getJson(
        `${fake.url}/v2/transactions?accountId=${accountId}&dateFrom=${day}&dateTo=${day}`,
        key,
      );
      const expected = all.filter((tx) => tx.date.slice(0, 10) === day);
      assert.deepEqual(res.body.results, expected.slice(0, 4));
    });

    await t.step(
      "debits are negative on bank accounts and every transaction has the documented fields",
      () => {
        for (const tx of all) assert.equal(tx.type === "DEBIT", tx.amount < 0);
        assert.deepEqual(Object.keys(all[0]).sort(), [
          "accountId",
          "amount",
          "amountInAccountCurrency",
          "balance",
          "category",
          "categoryId",
          "createdAt",
          "creditCardMetadata",
          "currencyCode",
          "date",
          "description",
          "descriptionRaw",
          "id",
          "merchant",
          "operationType",
          "operationTypeAdditionalInfo",
          "paymentData",
          "providerCode",
          "providerId",
          "status",
          "type",
          "updatedAt",
        ]);
        assert.match(all[0].createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      },
    );
  });
});

Deno.test("Pluggy keys expire on the fake clock and on expireApiKeys", async () => {
  let clock = Date.UTC(2025, 0, 1);
  await withPluggy({ now: () => clock, apiKeyTtlSeconds: 60 }, async (fake) => {
    const itemUrl = `${fake.url}/items/${fake.items[0].id}`;
    const key = { "x-api-key": await pluggyKey(fake) };
    assert.equal((await getJson(itemUrl, key)).status, 200);
    clock += 60_000;
    assert.equal((await getJson(itemUrl, key)).status, 401);
    const fresh = { "x-api-key": await pluggyKey(fake) };
    assert.equal((await getJson(itemUrl, fresh)).status, 200);
    fake.expireApiKeys();
    assert.equal((await getJson(itemUrl, fresh)).status, 401);
    assert.equal((await getJson(itemUrl, { "x-api-key": await pluggyKey(fake) })).status, 200);
  });
});

Deno.test("Pluggy mutators drive the listings the webhooks point at", async (t) => {
  let clock = Date.UTC(2025, 5, 1, 12);
  await withPluggy({ now: () => clock }, async (fake) => {
    const key = { "x-api-key": await pluggyKey(fake) };
    const itemId = fake.items[0].id;
    const accountId = fake.items[0].accounts[0].id;

    await t.step(
      "added transactions are created now, at the end, and the created link finds them",
      async () => {
        const added = fake.addTransactions(accountId, 3);
        assert.ok(added.every((tx) => tx.createdAt === new Date(clock).toISOString()));
        assert.deepEqual(fake.transactions(accountId).slice(-3), added);
        const hook = fake.webhooks.transactionsCreated({
          itemId,
          accountId,
          transactionsCreatedAtFrom: new Date(clock),
        });
        assert.equal(hook.event, "transactions/created");
        assert.equal(hook.transactionsCount, 3);
        assert.equal(
          hook.createdTransactionsLink,
          `${fake.url}/transactions?accountId=${accountId}&createdAtFrom=${
            new Date(clock).toISOString()
          }`,
        );
        const res = await getJson(hook.createdTransactionsLink as string, key);
        assert.deepEqual(res.body.results, added);
      },
    );

    await t.step(
      "updated transactions change description and amount and bump updatedAt",
      async () => {
        const before = fake.transactions(accountId).slice(0, 2);
        clock += 1000;
        const updated = fake.updateTransactions(before.map((tx) => tx.id));
        for (const [i, tx] of updated.entries()) {
          assert.notEqual(tx.description, before[i].description);
          assert.notEqual(tx.amount, before[i].amount);
          assert.equal(tx.updatedAt, new Date(clock).toISOString());
          assert.equal(tx.createdAt, before[i].createdAt);
        }
        const hook = fake.webhooks.transactionsUpdated({
          itemId,
          accountId,
          transactionIds: before.map((tx) => tx.id),
        });
        assert.deepEqual(Object.keys(hook).sort(), [
          "accountId",
          "clientId",
          "event",
          "eventId",
          "itemId",
          "transactionIds",
        ]);
        const res = await getJson(
          `${fake.url}/transactions?ids=${(hook.transactionIds as string[]).join(",")}`,
          key,
        );
        assert.deepEqual(res.body.results, updated);
      },
    );

    await t.step("deleted transactions leave every listing", async () => {
      const victim = fake.transactions(accountId)[3];
      fake.deleteTransactions([victim.id]);
      assert.ok(!fake.transactions(accountId).some((tx) => tx.id === victim.id));
      assert.equal((await getJson(`${fake.url}/transactions/${victim.id}`, key)).status, 404);
      const v2 = await getJson(`${fake.url}/v2/transactions?accountId=${accountId}`, key);
      assert.equal(v2.body.results.length, 27);
    });

    await t.step("item webhooks carry triggeredBy, clientUserId and a fresh eventId", () => {
      const a = fake.webhooks.itemUpdated({ itemId });
      const b = fake.webhooks.itemUpdated({ itemId });
      assert.equal(a.triggeredBy, "SYNC");
      assert.equal(a.clientUserId, fake.items[0].clientUserId);
      assert.notEqual(a.eventId, b.eventId);
      const error = fake.webhooks.itemError({ itemId, eventId: "fixed" });
      assert.equal(error.eventId, "fixed");
      assert.deepEqual(Object.keys(error.error as object).sort(), ["code", "message"]);
    });
  });
});
