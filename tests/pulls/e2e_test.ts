// The guide's whole loop against each fake vendor: connection, token, webhook, pull, transactions.
import assert from "node:assert/strict";
import type { Json } from "../support/vendor_calls.ts";
import { deliver, wireBelvo, wirePluggy } from "../support/pulls.ts";

/** What the API should show for a vendor transaction, keyed by the vendor's id. */
type Expected = Map<string, { amount: string; direction: string; date: string; currency: string }>;

function assertStored(stored: Json[], expected: Expected) {
  assert.equal(stored.length, expected.size);
  for (const t of stored) {
    const want = expected.get(t.externalId);
    assert.ok(want, `unexpected transaction ${t.externalId}`);
    assert.equal(t.amount, want.amount, t.externalId);
    assert.equal(t.direction, want.direction);
    assert.equal(t.date, want.date);
    assert.equal(t.currency, want.currency);
    assert.equal(t.amount.startsWith("-"), t.direction === "debit");
  }
}

/** The vendor's amount as the API writes it: exact decimal text, negative for money out. */
function decimal(value: number, negative: boolean): string {
  const abs = String(Math.abs(value));
  return negative ? `-${abs}` : abs;
}

/** Waits for a pull the woken worker pool runs in the background to succeed. */
async function settle(w: { pull(id: string): Promise<Json> }, pullId: string) {
  for (let i = 0; i < 400; i++) {
    if ((await w.pull(pullId)).status === "succeeded") return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`pull ${pullId} did not succeed: ${JSON.stringify(await w.pull(pullId))}`);
}

Deno.test("Pluggy: webhooks drive pulls and the transactions appear through the API", async (t) => {
  const w = await wirePluggy({ pageSize: 7 });
  const expected = (): Expected => {
    const map: Expected = new Map();
    for (const account of w.fake.items[0].accounts) {
      for (const tx of w.fake.transactions(account.id)) {
        map.set(tx.id, {
          amount: decimal(tx.amount, tx.type === "DEBIT"),
          direction: tx.type === "DEBIT" ? "debit" : "credit",
          date: tx.date.slice(0, 10),
          currency: tx.currencyCode,
        });
      }
    }
    return map;
  };
  try {
    await t.step("item/updated pulls every account's whole history", async () => {
      const { status, body } = await deliver(
        w,
        w.fake.webhooks.itemUpdated({ itemId: w.accountRef }),
      );
      assert.equal(status, 202);
      assert.equal(body.status, "accepted");
      await settle(w, body.pullId);
      const pull = await w.pull(body.pullId);
      assert.equal(pull.trigger, "webhook");
      assert.equal(pull.attempts, 1);
      assert.equal(pull.transactionsUpserted, 35);
      assert.equal(pull.lastError, null);
      assert.ok(pull.pagesFetched >= 6); // 25 and 10 transactions at 7 a page
      assertStored(await w.transactions(), expected());
    });

    await t.step(
      "transactions/created pulls that account from the webhook's timestamp",
      async () => {
        const account = w.fake.items[0].accounts[0].id;
        const from = new Date();
        const added = w.fake.addTransactions(account, 4);
        w.fake.resetRequests();
        const { body } = await deliver(
          w,
          w.fake.webhooks.transactionsCreated({
            itemId: w.accountRef,
            accountId: account,
            transactionsCreatedAtFrom: from,
          }),
        );
        await settle(w, body.pullId);
        const listing = w.fake.requests.filter((r) => r.path === "/v2/transactions");
        assert.equal(listing[0].query.get("createdAtFrom"), from.toISOString());
        assert.equal(listing[0].query.get("accountId"), account);
        assert.equal((await w.pull(body.pullId)).transactionsUpserted, added.length);
        assertStored(await w.transactions(), expected());
      },
    );

    await t.step("transactions/updated fetches the listed ids and overwrites them", async () => {
      const account = w.fake.items[0].accounts[1].id;
      const ids = w.fake.transactions(account).slice(0, 3).map((tx) => tx.id);
      w.fake.updateTransactions(ids);
      w.fake.resetRequests();
      const { body } = await deliver(
        w,
        w.fake.webhooks.transactionsUpdated({
          itemId: w.accountRef,
          accountId: account,
          transactionIds: ids,
        }),
      );
      await settle(w, body.pullId);
      const byIds = w.fake.requests.filter((r) => r.path === "/transactions");
      assert.deepEqual(byIds[0].query.get("ids")?.split(",").sort(), [...ids].sort());
      assert.equal((await w.pull(body.pullId)).transactionsUpserted, 3);
      assertStored(await w.transactions(), expected());
    });

    await t.step("transactions/deleted hides them without a vendor call", async () => {
      const account = w.fake.items[0].accounts[0].id;
      const ids = w.fake.transactions(account).slice(0, 2).map((tx) => tx.id);
      w.fake.deleteTransactions(ids);
      w.fake.resetRequests();
      const { body } = await deliver(
        w,
        w.fake.webhooks.transactionsDeleted({
          itemId: w.accountRef,
          accountId: account,
          transactionIds: ids,
        }),
      );
      await settle(w, body.pullId);
      assert.equal(w.fake.requests.filter((r) => r.path.includes("transactions")).length, 0);
      const stored = await w.transactions();
      assert.ok(!stored.some((tx) => ids.includes(tx.externalId)));
      assertStored(stored, expected());
    });

    await t.step(
      "a later item/updated reads from the watermark, not the whole history",
      async () => {
        w.fake.resetRequests();
        const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
        await settle(w, body.pullId);
        const listing = w.fake.requests.filter((r) => r.path === "/v2/transactions");
        assert.ok(listing.every((r) => r.query.has("createdAtFrom")));
        assert.equal((await w.pull(body.pullId)).transactionsUpserted, 0);
        assertStored(await w.transactions(), expected());
      },
    );

    await t.step("events of another item and other events are recorded and ignored", async () => {
      const other = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: crypto.randomUUID() }));
      assert.deepEqual(other.body, { status: "ignored", pullId: null });
      const error = await deliver(w, w.fake.webhooks.itemError({ itemId: w.accountRef }));
      assert.deepEqual(error.body, { status: "ignored", pullId: null });
      const [{ count }] = await w.h
        .sql`select count(*)::int from webhook_events where outcome = 'ignored'`;
      assert.equal(count, 2);
    });
  } finally {
    await w.close();
  }
});

Deno.test("Belvo: TRANSACTIONS webhooks pull from the watermark and amounts take their sign from type", async (t) => {
  const w = await wireBelvo();
  const expected = (): Expected => {
    const map: Expected = new Map();
    for (const tx of w.fake.transactions(w.accountRef)) {
      map.set(tx.id, {
        amount: decimal(tx.amount, tx.type === "OUTFLOW"),
        direction: tx.type === "OUTFLOW" ? "debit" : "credit",
        date: tx.value_date,
        currency: tx.currency,
      });
    }
    return map;
  };
  try {
    await t.step("historical_update stores every transaction of the link", async () => {
      const { status, body } = await deliver(
        w,
        w.fake.webhooks.historicalUpdate({ linkId: w.accountRef }),
      );
      assert.equal(status, 202);
      assert.equal(body.status, "accepted");
      await settle(w, body.pullId);
      assertStored(await w.transactions(), expected());
      assert.ok(w.fake.transactions(w.accountRef).every((tx) => Number(tx.amount) > 0));
    });

    await t.step("new_transactions_available fetches only from the watermark", async () => {
      w.fake.addTransactions(w.fake.links[0].accounts[0].id, 5);
      w.fake.resetRequests();
      const { body } = await deliver(
        w,
        w.fake.webhooks.newTransactionsAvailable({ linkId: w.accountRef, count: 5 }),
      );
      await settle(w, body.pullId);
      const listing = w.fake.requests.filter((r) => r.path === "/api/transactions/");
      assert.ok(listing.length > 0 && listing.every((r) => r.query.has("created_at__gte")));
      assertStored(await w.transactions(), expected());
    });

    await t.step("webhooks of another link or type are ignored", async () => {
      const { body } = await deliver(
        w,
        w.fake.webhooks.historicalUpdate({ linkId: crypto.randomUUID() }),
      );
      assert.deepEqual(body, { status: "ignored", pullId: null });
      const accounts = await deliver(w, {
        webhook_id: crypto.randomUUID(),
        webhook_type: "ACCOUNTS",
        webhook_code: "historical_update",
        link_id: w.accountRef,
        data: {},
      });
      assert.deepEqual(accounts.body, { status: "ignored", pullId: null });
    });
  } finally {
    await w.close();
  }
});
