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
    }).work,
    { createdFrom: { acc: "2025-02-13T17:21:53.719Z" } },
  );
  assert.deepEqual(
    readWebhook("pluggy", {
      ...base,
      event: "transactions/updated",
      transactionIds: ["1", "1", "2"],
    })
      .work,
    { ids: { acc: ["1", "2"] } },
  );
  assert.deepEqual(
    readWebhook("pluggy", { ...base, event: "transactions/deleted", transactionIds: ["1"] })
      .work,
    { deleted: ["1"] },
  );
  assert.deepEqual(readWebhook("pluggy", { ...base, event: "item/updated" }).work, {
    sync: true,
  });
  // The event's subject is what decides, against the connection's account reference, whether
  // it asks anything of that connection.
  const other = readWebhook("pluggy", { ...base, itemId: "item-2", event: "item/updated" });
  assert.deepEqual(other, {
    key: "e1",
    type: "item/updated",
    subject: "item-2",
    work: { sync: true },
  });
  assert.equal(
    readWebhook("pluggy", { ...base, event: "connector/status_updated" }).work,
    null,
  );
});

Deno.test("Belvo TRANSACTIONS codes sync from the watermark; listed deletions are applied", () => {
  const base = { webhook_id: "w1", webhook_type: "TRANSACTIONS", link_id: "link" };
  for (const code of ["historical_update", "new_transactions_available", "transactions_updated"]) {
    assert.deepEqual(readWebhook("belvo", { ...base, webhook_code: code }).work, {
      sync: true,
    });
  }
  assert.deepEqual(
    readWebhook("belvo", {
      ...base,
      webhook_code: "transactions_deleted",
      data: { transactions: ["t1", 7] },
    }).work,
    { sync: true, deleted: ["t1"] },
  );
  assert.deepEqual(
    readWebhook("belvo", { ...base, webhook_code: "transactions_deleted" }).work,
    { sync: true },
  );
  assert.equal(
    readWebhook("belvo", { ...base, webhook_type: "LINKS", webhook_code: "x" }).work,
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
      () => readWebhook(vendor, body),
      (err) =>
        err instanceof AppError && errorAnswer(err).status === 400 &&
        errorAnswer(err).body.code === "MTCH-1020",
      JSON.stringify(body),
    );
  }
});

Deno.test("each event names the item or link it is about, which decides whom it asks", () => {
  const pluggy = { eventId: "e", itemId: "item-1", accountId: "acc" };
  assert.equal(readWebhook("pluggy", { ...pluggy, event: "item/updated" }).subject, "item-1");
  assert.equal(readWebhook("pluggy", { eventId: "e", event: "item/updated" }).subject, null);
  assert.equal(
    readWebhook("pluggy", { ...pluggy, event: "transactions/deleted", transactionIds: ["1"] })
      .subject,
    "item-1",
  );
  const belvo = { webhook_id: "w", webhook_type: "LINKS", webhook_code: "x", link_id: "link-1" };
  assert.equal(readWebhook("belvo", belvo).subject, "link-1");
});
