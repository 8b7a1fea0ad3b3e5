// What each vendor's webhook asks for, and the 400 for a body that is not that vendor's payload.
import assert from "node:assert/strict";
import { errorAnswer } from "../http/errors.ts";
import { AppError } from "../lib/app_error.ts";
import { readWebhook } from "./vendor_events.ts";

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
      (err) =>
        err instanceof AppError && errorAnswer(err).status === 400 &&
        errorAnswer(err).body.code === "MTCH-1020",
      JSON.stringify(body),
    );
  }
});
