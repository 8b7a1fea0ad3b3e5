// The official SDKs, pluggy-sdk and belvo, driven against the fakes: the proof of their fidelity.
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { type FakeBelvoOptions } from "./belvo.ts";
import { type FakePluggyOptions } from "./pluggy.ts";
import {
  asJson,
  assertBelvoError,
  BELVO_AUTH,
  BelvoClient,
  gotBody,
  type Json,
  pluggyClient,
  pluggyKey,
  quietly,
  withBelvo,
  withPluggy,
} from "../support/vendor_calls.ts";

Deno.test("pluggy-sdk authenticates once, reads the item and accounts, and pages every transaction", async (t) => {
  const options: FakePluggyOptions = {
    pageSize: 7,
    items: [{
      accounts: [{ type: "BANK", transactions: 23 }, { type: "CREDIT", transactions: 4 }],
    }],
  };
  await withPluggy(options, async (fake) => {
    const client = pluggyClient(fake);
    const [item] = fake.items;
    const [bank, card] = item.accounts;

    await t.step("fetchItem sends POST /auth then X-API-KEY, and gets the item", async () => {
      const got = await client.fetchItem(item.id);
      assert.equal(fake.authCount, 1);
      assert.equal(got.id, item.id);
      assert.equal(got.status, "UPDATED");
      assert.equal(got.executionStatus, "SUCCESS");
      assert.equal(got.connector.name, "Pluggy Bank");
      assert.ok(got.lastUpdatedAt instanceof Date, "the SDK revived lastUpdatedAt");
      const [auth, fetchItem] = fake.requests;
      assert.equal(auth.method, "POST");
      assert.equal(auth.path, "/auth");
      assert.equal(fetchItem.headers.get("x-api-key")?.split(".").length, 3);
    });

    await t.step("fetchAccounts lists both accounts and filters by type", async () => {
      const all = await client.fetchAccounts(item.id);
      assert.deepEqual(asJson(all), {
        total: 2,
        totalPages: 1,
        page: 1,
        results: fake.accounts(item.id),
      });
      const credit = await client.fetchAccounts(item.id, "CREDIT");
      assert.deepEqual(credit.results.map((a) => [a.id, a.subtype]), [[card.id, "CREDIT_CARD"]]);
      const one = await client.fetchAccount(bank.id);
      assert.equal(one.subtype, "CHECKING_ACCOUNT");
      assert.equal(one.currencyCode, "BRL");
    });

    await t.step(
      "fetchAllTransactions follows four /v2 pages to the same list, in order",
      async () => {
        fake.resetRequests();
        const all = await client.fetchAllTransactions(bank.id);
        const expected = fake.transactions(bank.id);
        assert.equal(expected.length, 23);
        assert.deepEqual(asJson(all), expected);
        const pages = fake.requests.filter((r) => r.path === "/v2/transactions");
        assert.equal(pages.length, 4);
        assert.equal(pages[0].query.get("after"), null);
        assert.ok(
          pages.slice(1).every((r) => r.query.get("accountId") === bank.id && r.query.get("after")),
        );
      },
    );

    await t.step(
      "fetchTransactionsCursor with ids and the page-based fetchTransactions agree",
      async () => {
        const wanted = fake.transactions(bank.id).filter((_, i) => i % 5 === 0);
        const ids = wanted.map((tx) => tx.id);
        const cursor = await client.fetchTransactionsCursor(bank.id, { ids });
        assert.deepEqual(asJson(cursor), { results: wanted, next: null });
        const paged = await client.fetchTransactions(bank.id, { ids, pageSize: 2, page: 2 });
        assert.deepEqual(asJson(paged), {
          total: 5,
          totalPages: 3,
          page: 2,
          results: wanted.slice(2, 4),
        });
        const single = await client.fetchTransaction(ids[0]);
        assert.deepEqual(asJson(single), wanted[0]);
      },
    );

    await t.step("the API key was reused throughout", () => {
      assert.equal(fake.authCount, 1);
    });

    await t.step(
      "after expireApiKeys the cached key is refused with Pluggy's 401 body",
      async () => {
        fake.expireApiKeys();
        const body = await quietly(() =>
          client.fetchItem(item.id).then(() => "resolved", (e) => e)
        );
        assert.deepEqual(body, { code: 401, message: "Missing or invalid API key" });
        const fresh = pluggyClient(fake);
        assert.equal((await fresh.fetchItem(item.id)).id, item.id);
        assert.equal(fake.authCount, 2);
      },
    );
  });
});

Deno.test("pluggy-sdk re-authenticates once its key's exp has passed", async () => {
  // 2 s, not 1: exp is iat + ttl in whole seconds, so a 1 s key minted at the end of a second is
  // valid for a few ms only, and the SDK's first call could already find it expired (a CI flake).
  await withPluggy({ apiKeyTtlSeconds: 2 }, async (fake) => {
    const client = pluggyClient(fake);
    const itemId = fake.items[0].id;
    await client.fetchItem(itemId);
    const exp = decodeJwt(await pluggyKey(fake)).exp!;
    while (Math.floor(Date.now() / 1000) < exp) await new Promise((r) => setTimeout(r, 50));
    await client.fetchItem(itemId);
    assert.equal(fake.authCount, 3, "the SDK's two logins plus the one made here");
  });
});

Deno.test("pluggy-sdk is refused with Pluggy's bodies for wrong and disabled client keys", async () => {
  const clients = [
    { clientId: "fake-client-id", clientSecret: "fake-client-secret" },
    { clientId: "off-id", clientSecret: "off-secret", disabled: true },
  ];
  await withPluggy({ clients }, async (fake) => {
    const itemId = fake.items[0].id;
    const wrong = await quietly(() =>
      pluggyClient(fake, "fake-client-id", "nope").fetchItem(itemId).catch((e) => e)
    );
    assert.equal(wrong.response.statusCode, 401);
    assert.deepEqual(gotBody(wrong), {
      code: 401,
      codeDescription: "CLIENT_KEYS_UNAUTHORIZED",
      message: "Client keys are invalid",
    });
    const off = await quietly(() =>
      pluggyClient(fake, "off-id", "off-secret").fetchItem(itemId).catch((e) => e)
    );
    assert.equal(off.response.statusCode, 403);
    assert.equal(gotBody(off).codeDescription, "CLIENT_DISABLED");
    assert.equal(fake.authCount, 0);
  });
});

Deno.test("pluggy-sdk retries a 429 twice, honouring Retry-After, then rejects with Pluggy's body", async () => {
  // got caps Retry-After at its request timeout only when that timeout is an object; pluggy-sdk
  // passes a number, so the real 60 s Retry-After would make the SDK sleep a minute per retry.
  await withPluggy({}, async (fake) => {
    const client = pluggyClient(fake);
    const itemId = fake.items[0].id;
    const path = `/items/${itemId}`;
    const fault = { status: 429, headers: { "Retry-After": "1" } };
    fake.faults.add({ path, fault });
    assert.equal((await client.fetchItem(itemId)).id, itemId);
    assert.equal(fake.requests.filter((r) => r.path === path).length, 2);
    fake.resetRequests();
    fake.faults.add({ path, fault, times: 3 });
    const body = await quietly(() => client.fetchItem(itemId).catch((e) => e));
    assert.deepEqual(body, { message: "Too many requests, please try again later.", code: 429 });
    assert.equal(fake.requests.filter((r) => r.path === path).length, 3);
  });
});

Deno.test("pluggy-sdk registers a webhook with custom headers, and the fake's deliveries carry them", async (t) => {
  const received: Array<{ path: string; headers: Headers; body: Json }> = [];
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received.push({
      path: new URL(req.url).pathname,
      headers: req.headers,
      body: await req.json(),
    });
    return Response.json({ ok: true }, { status: 202 });
  });
  const target = (path: string) => `http://127.0.0.1:${receiver.addr.port}${path}`;
  try {
    await withPluggy({}, async (fake) => {
      const client = pluggyClient(fake);
      const itemId = fake.items[0].id;
      let created: Awaited<ReturnType<typeof client.createWebhook>>;

      await t.step("createWebhook(event, url, headers) posts them to /webhooks", async () => {
        created = await client.createWebhook("all", target("/all"), { "X-Secret": "s3cret" });
        assert.equal(created.url, target("/all"));
        assert.equal(created.event, "all");
        assert.ok(created.createdAt instanceof Date, "the SDK revived createdAt");
        const sent = fake.requests.find((r) => r.method === "POST" && r.path === "/webhooks");
        assert.ok(sent?.headers.get("x-api-key"), "sent with the API key");
        assert.deepEqual(fake.webhookRegistrations.map((w) => w.headers), [{
          "X-Secret": "s3cret",
        }]);
        await client.createWebhook("item/error", target("/errors"));
        const listed = await client.fetchWebhooks();
        assert.deepEqual(listed.results.map((w) => w.event), ["all", "item/error"]);
        assert.ok(
          !JSON.stringify(asJson(listed)).includes("s3cret"),
          "Pluggy never answers a webhook's headers back",
        );
      });

      await t.step("a delivery goes to each webhook of its event, with its headers", async () => {
        const answers = await fake.notify(fake.webhooks.itemError({ itemId }));
        assert.deepEqual(answers.map((a) => a.status), [202, 202]);
        const all = received.find((r) => r.path === "/all")!;
        assert.equal(all.headers.get("x-secret"), "s3cret");
        assert.equal(all.body.event, "item/error");
        const errors = received.find((r) => r.path === "/errors")!;
        assert.equal(errors.headers.get("x-secret"), null);
        received.length = 0;
        await fake.notify(fake.webhooks.itemUpdated({ itemId }));
        assert.deepEqual(received.map((r) => r.path), ["/all"]);
      });

      await t.step("updateWebhook disables and deleteWebhook removes it", async () => {
        received.length = 0;
        await client.updateWebhook(created.id, { enabled: false });
        assert.deepEqual(await fake.notify(fake.webhooks.itemUpdated({ itemId })), []);
        await client.deleteWebhook(created.id);
        assert.deepEqual((await client.fetchWebhooks()).results.map((w) => w.event), [
          "item/error",
        ]);
        assert.equal(received.length, 0);
      });

      await t.step("an unknown event is refused with Pluggy's 400 body", async () => {
        const refused = await quietly(() =>
          client.createWebhook("nope" as "all", target("/x")).then(() => "resolved", (e) => e)
        );
        assert.deepEqual(refused, { code: 400, message: "event is not valid" });
      });
    });
  } finally {
    await receiver.shutdown();
  }
});

Deno.test("belvo SDK logs in, reads the link and accounts, and lists a link's transactions over pages", async (t) => {
  const options: FakeBelvoOptions = {
    defaultPageSize: 7,
    links: [{
      externalId: "ext-1",
      accounts: [{ transactions: 23 }, { category: "CREDIT_CARD", transactions: 9 }],
    }],
  };
  await withBelvo(options, async (fake) => {
    const client = new BelvoClient("fake-secret-id", "fake-secret-password", fake.url);
    const [link] = fake.links;

    await t.step("connect() logs in with GET /api/ and HTTP Basic", async () => {
      await client.connect();
      assert.equal(fake.authCount, 1);
      assert.equal(fake.requests[0].path, "/api/");
      assert.equal(fake.requests[0].headers.get("authorization"), BELVO_AUTH.authorization);
    });

    await t.step("links.detail and links.list return the link", async () => {
      const detail = await client.links.detail(link.id);
      assert.equal(detail.id, link.id);
      assert.equal(detail.status, "valid");
      assert.equal(detail.access_mode, "recurrent");
      assert.equal(detail.external_id, "ext-1");
      assert.deepEqual(await client.links.list(), [detail]);
    });

    await t.step("accounts.list filtered by link returns both accounts", async () => {
      const accounts = await client.accounts.list({ filters: { link: link.id } });
      assert.deepEqual(accounts, fake.accounts(link.id));
      assert.deepEqual(
        await client.accounts.detail(link.accounts[1].id),
        fake.accounts(link.id)[1],
      );
    });

    await t.step(
      "transactions.list follows `next` through five pages to the same list",
      async () => {
        fake.resetRequests();
        const all = await client.transactions.list({ filters: { link: link.id } });
        const expected = fake.transactions(link.id);
        assert.equal(expected.length, 32);
        assert.deepEqual(all, expected);
        const pages = fake.requests.filter((r) => r.path === "/api/transactions/");
        assert.deepEqual(pages.map((r) => r.query.get("page")), [null, "2", "3", "4", "5"]);
      },
    );

    await t.step("a limit other than 100 becomes page_size, and filters pass through", async () => {
      fake.resetRequests();
      const outflows = await client.transactions.list({
        limit: 10,
        filters: { link: link.id, type: "OUTFLOW" },
      });
      const expected = fake.transactions(link.id).filter((tx) => tx.type === "OUTFLOW").slice(
        0,
        10,
      );
      assert.deepEqual(outflows, expected);
      assert.equal(fake.requests[0].query.get("page_size"), "10");
      assert.deepEqual(await client.transactions.detail(expected[0].id), expected[0]);
    });

    await t.step("an unknown link rejects with status 404 and Belvo's error array", async () => {
      const error = await client.links.detail(crypto.randomUUID()).catch((e) => e);
      assert.equal(error.statusCode, 404);
      assertBelvoError(error.detail, { code: "not_found", message: "Not found" });
    });
  });
});

Deno.test("belvo SDK's connect() fails on wrong secrets", async () => {
  await withBelvo({}, async (fake) => {
    const client = new BelvoClient("fake-secret-id", "wrong", fake.url);
    await assert.rejects(quietly(() => client.connect()), /Login failed/);
    assert.equal(fake.authCount, 0);
    assert.equal(fake.requests.length, 1);
  });
});
