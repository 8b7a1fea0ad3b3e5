// The fake Belvo's own behaviour: error arrays, page links and clamping, mutators and webhooks.
import assert from "node:assert/strict";
import {
  assertBelvoError,
  BELVO_AUTH,
  belvoGet,
  getJson,
  HEX32,
  withBelvo,
} from "../support/vendor_calls.ts";

Deno.test("Belvo's errors are arrays of {code, message, request_id[, field]}", async () => {
  await withBelvo({}, async (fake) => {
    const linkId = fake.links[0].id;
    const none = await belvoGet(fake, "/api/", {} as typeof BELVO_AUTH);
    assert.equal(none.status, 401);
    assertBelvoError(none.body, { code: "authentication_failed", message: "Invalid Secret Keys" });
    const wrong = await belvoGet(fake, "/api/", {
      authorization: `Basic ${btoa("fake-secret-id:x")}`,
    });
    assert.equal(wrong.status, 401);
    for (
      const path of [
        `/api/links/${crypto.randomUUID()}/`,
        "/api/links/not-a-uuid/",
        "/api/nothing/",
      ]
    ) {
      const res = await belvoGet(fake, path);
      assert.equal(res.status, 404, path);
      assertBelvoError(res.body, { code: "not_found", message: "Not found" });
    }
    const missing = await belvoGet(fake, "/api/transactions/");
    assert.equal(missing.status, 400);
    assertBelvoError(missing.body, {
      code: "required",
      message: "This field is required.",
      field: "link",
    });
    const badUuid = await belvoGet(fake, "/api/transactions/?link=abc");
    assertBelvoError(badUuid.body, {
      code: "invalid",
      message: "Enter a valid UUID.",
      field: "link",
    });
    const badType = await belvoGet(fake, `/api/transactions/?link=${linkId}&type=SIDEWAYS`);
    assert.equal(badType.status, 400);
    assert.equal(badType.body[0].code, "invalid_choice");
    const pastEnd = await belvoGet(fake, `/api/transactions/?link=${linkId}&page=2`);
    assert.equal(pastEnd.status, 404);
    assertBelvoError(pastEnd.body, { code: "not_found", message: "Invalid page." });
    const zero = await belvoGet(fake, `/api/transactions/?link=${linkId}&page_size=0`);
    assert.equal(zero.status, 400);
    assert.equal(zero.body[0].field, "page_size");
    const unknownLink = await belvoGet(fake, `/api/transactions/?link=${crypto.randomUUID()}`);
    assert.deepEqual(unknownLink.body, { count: 0, next: null, previous: null, results: [] });
  });
});

Deno.test("Belvo pages with absolute next/previous links and clamps page_size to 1000", async (t) => {
  await withBelvo({
    defaultPageSize: 10,
    links: [{ accounts: [{ transactions: 1205 }, { transactions: 3 }] }],
  }, async (fake) => {
    const linkId = fake.links[0].id;
    const all = fake.transactions(linkId);

    await t.step("page 2 links to page 3 and back to the page-less first page", async () => {
      const res = await belvoGet(fake, `/api/transactions/?link=${linkId}&page=2`);
      assert.equal(res.body.count, 1208);
      assert.deepEqual(res.body.results, all.slice(10, 20));
      assert.equal(res.body.next, `${fake.url}/api/transactions/?link=${linkId}&page=3`);
      assert.equal(res.body.previous, `${fake.url}/api/transactions/?link=${linkId}`);
    });

    await t.step("page_size above 1000 serves 1000", async () => {
      const res = await belvoGet(fake, `/api/transactions/?link=${linkId}&page_size=5000`);
      assert.equal(res.body.results.length, 1000);
      assert.equal(
        res.body.next,
        `${fake.url}/api/transactions/?link=${linkId}&page_size=5000&page=2`,
      );
      const last = await getJson(res.body.next, BELVO_AUTH);
      assert.deepEqual(last.body.results, all.slice(1000));
      assert.equal(last.body.next, null);
    });

    await t.step("created_at__gte takes a day or a full timestamp, inclusively", async () => {
      const pivot = all[600];
      const byInstant = await belvoGet(
        fake,
        `/api/transactions/?link=${linkId}&page_size=1000&created_at__gte=${pivot.created_at}`,
      );
      assert.deepEqual(
        byInstant.body.results,
        all.filter((tx) => tx.created_at >= pivot.created_at),
      );
      const day = pivot.created_at.slice(0, 10);
      const byDay = await belvoGet(
        fake,
        `/api/transactions/?link=${linkId}&page_size=1000&created_at__gte=${day}`,
      );
      assert.equal(byDay.body.count, all.filter((tx) => tx.created_at.slice(0, 10) >= day).length);
      assert.equal(
        (await belvoGet(fake, `/api/transactions/?link=${linkId}&created_at__gte=soon`)).status,
        400,
      );
    });

    await t.step("the list is ordered by created_at, then id, and amounts are positive", () => {
      const keys = all.map((tx) => `${tx.created_at} ${tx.id}`);
      assert.deepEqual(keys, [...keys].sort());
      assert.ok(all.every((tx) => tx.amount > 0 && /^\d{4}-\d{2}-\d{2}$/.test(tx.value_date)));
      assert.deepEqual(Object.keys(all[0].account.balance as object), ["current", "available"]);
    });
  });
});

Deno.test("Belvo mutators change what the API lists, and webhooks use Belvo's shape", async () => {
  let clock = Date.UTC(2025, 5, 1, 12);
  await withBelvo({
    now: () => clock,
    links: [{ externalId: "ext-9", accounts: [{ transactions: 5 }] }],
  }, async (fake) => {
    const linkId = fake.links[0].id;
    const added = fake.addTransactions(linkId, 2);
    assert.deepEqual(fake.transactions(linkId).slice(-2), added);
    const since = `/api/transactions/?link=${linkId}&created_at__gte=${added[0].created_at}`;
    assert.deepEqual((await belvoGet(fake, since)).body.results, added);
    clock += 1000;
    const [updated] = fake.updateTransactions([added[0].id]);
    assert.notEqual(updated.description, added[0].description);
    assert.deepEqual((await belvoGet(fake, `/api/transactions/${updated.id}/`)).body, updated);
    fake.deleteTransactions([added[1].id]);
    assert.equal((await belvoGet(fake, `/api/transactions/${added[1].id}/`)).status, 404);
    assert.equal(fake.transactions(linkId).length, 6);

    const hook = fake.webhooks.newTransactionsAvailable({ linkId, count: 2 });
    assert.deepEqual(Object.keys(hook).sort(), [
      "data",
      "external_id",
      "link_id",
      "process_type",
      "request_id",
      "webhook_code",
      "webhook_id",
      "webhook_type",
    ]);
    assert.match(hook.webhook_id as string, HEX32);
    assert.deepEqual([
      hook.webhook_type,
      hook.webhook_code,
      hook.process_type,
      hook.external_id,
      hook.data,
    ], [
      "TRANSACTIONS",
      "new_transactions_available",
      "recurrent_update",
      "ext-9",
      { new_transactions: 2 },
    ]);
    const history = fake.webhooks.historicalUpdate({ linkId, webhookId: "w1" });
    assert.equal(history.webhook_id, "w1");
    assert.equal(history.process_type, "historical_update");
    assert.equal((history.data as Record<string, unknown>).total_transactions, 6);
    assert.equal(
      fake.webhooks.transactionsDeleted({ linkId, transactionIds: ["a"] }).webhook_code,
      "transactions_deleted",
    );
  });
});
