// Pure parts of pulls: merging triggers into a queued job, step order, retry delays, vendor events.
import assert from "node:assert/strict";
import { BASE_DELAY_MS, MAX_DELAY_MS, retryDelayMs } from "../src/pulls/backoff.ts";
import { mergeWork, planSteps } from "../src/pulls/work.ts";
import { AppError } from "../src/http/errors.ts";
import { readWebhook } from "../src/webhooks/vendor_events.ts";

Deno.test("merged work syncs if either does, keeps the earlier created-from and unites ids", () => {
  const merged = mergeWork(
    { createdFrom: { a: "2026-01-02T00:00:00.000Z" }, ids: { a: ["1", "2"] }, deleted: ["x"] },
    {
      sync: true,
      createdFrom: { a: "2026-01-01T00:00:00.000Z", b: "2026-03-01T00:00:00.000Z" },
      ids: { a: ["2", "3"], b: ["4"] },
      deleted: ["x", "y"],
    },
  );
  assert.deepEqual(merged, {
    sync: true,
    createdFrom: { a: "2026-01-01T00:00:00.000Z", b: "2026-03-01T00:00:00.000Z" },
    ids: { a: ["1", "2", "3"], b: ["4"] },
    deleted: ["x", "y"],
  });
  assert.deepEqual(mergeWork({}, {}), {});
  assert.deepEqual(mergeWork({ createdFrom: { a: "2026-01-01T00:00:00.000Z" } }, {}), {
    createdFrom: { a: "2026-01-01T00:00:00.000Z" },
  });
});

Deno.test("steps run targeted fetches, then every account, then deletions, in a fixed order", async () => {
  let asked = 0;
  const steps = await planSteps(
    { sync: true, deleted: ["d"], ids: { b: ["1"] }, createdFrom: { z: "t", a: "t" } },
    () => {
      asked++;
      return Promise.resolve(["acc-2", "acc-1", "acc-2"]);
    },
  );
  assert.deepEqual(steps.map((s) => s.key), [
    "created:a",
    "created:z",
    "ids:b",
    "sync:acc-1",
    "sync:acc-2",
    "deleted",
  ]);
  assert.equal(asked, 1);
  await planSteps({ ids: { a: ["1"] } }, () => assert.fail("accounts are listed only to sync"));
});

Deno.test("retry delays double from 30 s up to an hour, jittered within their upper half", () => {
  assert.equal(retryDelayMs(1, 0, () => 1), BASE_DELAY_MS);
  assert.equal(retryDelayMs(1, 0, () => 0), BASE_DELAY_MS / 2);
  assert.equal(retryDelayMs(3, 0, () => 1), 4 * BASE_DELAY_MS);
  assert.equal(retryDelayMs(20, 0, () => 1), MAX_DELAY_MS);
  for (let attempt = 1; attempt < 10; attempt++) {
    const d = retryDelayMs(attempt);
    const planned = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1));
    assert.ok(d >= planned / 2 && d <= planned, `attempt ${attempt}: ${d}`);
  }
});

Deno.test("a vendor's Retry-After is a floor under the retry delay", () => {
  assert.equal(retryDelayMs(1, 120_000, () => 1), 120_000);
  assert.equal(retryDelayMs(7, 1_000, () => 1), 64 * BASE_DELAY_MS);
});

Deno.test("Pluggy events map to the pulls the issue asks for", () => {
  const item = "item-1";
  const base = { eventId: "e1", itemId: item, accountId: "acc" };
  assert.deepEqual(
    readWebhook("pluggy", {
      ...base,
      event: "transactions/created",
      transactionsCreatedAtFrom: "2025-02-13T17:21:53.719Z",
    }, item).work,
    { createdFrom: { acc: "2025-02-13T17:21:53.719Z" } },
  );
  assert.deepEqual(
    readWebhook("pluggy", {
      ...base,
      event: "transactions/updated",
      transactionIds: ["1", "1", "2"],
    }, item)
      .work,
    { ids: { acc: ["1", "2"] } },
  );
  assert.deepEqual(
    readWebhook("pluggy", { ...base, event: "transactions/deleted", transactionIds: ["1"] }, item)
      .work,
    { deleted: ["1"] },
  );
  assert.deepEqual(readWebhook("pluggy", { ...base, event: "item/updated" }, item).work, {
    sync: true,
  });
  const other = readWebhook("pluggy", { ...base, event: "item/updated" }, "item-2");
  assert.deepEqual(other, { key: "e1", type: "item/updated", work: null });
  assert.equal(
    readWebhook("pluggy", { ...base, event: "connector/status_updated" }, item).work,
    null,
  );
});

Deno.test("Belvo TRANSACTIONS codes sync from the watermark; listed deletions are applied", () => {
  const base = { webhook_id: "w1", webhook_type: "TRANSACTIONS", link_id: "link" };
  for (const code of ["historical_update", "new_transactions_available", "transactions_updated"]) {
    assert.deepEqual(readWebhook("belvo", { ...base, webhook_code: code }, "link").work, {
      sync: true,
    });
  }
  assert.deepEqual(
    readWebhook("belvo", {
      ...base,
      webhook_code: "transactions_deleted",
      data: { transactions: ["t1", 7] },
    }, "link").work,
    { sync: true, deleted: ["t1"] },
  );
  assert.deepEqual(
    readWebhook("belvo", { ...base, webhook_code: "transactions_deleted" }, "link").work,
    { sync: true },
  );
  assert.equal(
    readWebhook("belvo", { ...base, webhook_type: "LINKS", webhook_code: "x" }, "link").work,
    null,
  );
});

Deno.test("a body that is not the vendor's payload is a 400 naming the missing fields", () => {
  const cases: [("pluggy" | "belvo"), unknown][] = [
    ["pluggy", { event: "item/updated" }],
    ["pluggy", { event: "transactions/created", eventId: "e", itemId: "i", accountId: "a" }],
    ["pluggy", { event: "transactions/updated", eventId: "e", itemId: "i", accountId: "a" }],
    ["pluggy", { webhook_id: "w", webhook_type: "TRANSACTIONS", webhook_code: "x", link_id: "l" }],
    ["belvo", { event: "item/updated", eventId: "e" }],
    ["belvo", { webhook_id: "w", webhook_type: "TRANSACTIONS", link_id: "l" }],
  ];
  for (const [vendor, body] of cases) {
    assert.throws(
      () => readWebhook(vendor, body, "i"),
      (err) => err instanceof AppError && err.status === 400 && err.code === "MTCH-1020",
      JSON.stringify(body),
    );
  }
});
