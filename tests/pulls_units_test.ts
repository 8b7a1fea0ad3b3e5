// Pure parts of pulls: merging triggers into a queued job, step order, walks at once, retry delays,
// vendor events.
import assert from "node:assert/strict";
import { BASE_DELAY_MS, MAX_DELAY_MS, retryDelayMs } from "../src/pulls/backoff.ts";
import { type Halt, runAtMost } from "../src/pulls/walks.ts";
import { cursorsOf, mergeWork, planSteps, runsOfOneKind } from "../src/pulls/work.ts";
import { errorAnswer } from "../src/http/errors.ts";
import { AppError } from "../src/lib/app_error.ts";
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
      (err) =>
        err instanceof AppError && errorAnswer(err).status === 400 &&
        errorAnswer(err).body.code === "MTCH-1020",
      JSON.stringify(body),
    );
  }
});

/** A promise and its resolve/reject, for a test to settle a walk when it wants. */
function deferred() {
  let resolve = () => {};
  let reject = (_: unknown) => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

Deno.test("runAtMost runs every walk, in order, never more than its limit at once", async () => {
  const pending = new Map<number, ReturnType<typeof deferred>>();
  const started: number[] = [];
  const run = runAtMost([1, 2, 3, 4, 5], 2, {}, (n) => {
    started.push(n);
    const d = deferred();
    pending.set(n, d);
    return d.promise;
  });
  await turns();
  assert.deepEqual(started, [1, 2]);
  pending.get(2)!.resolve();
  await turns();
  assert.deepEqual(started, [1, 2, 3]);
  pending.get(1)!.resolve();
  pending.get(3)!.resolve();
  await turns();
  assert.deepEqual(started, [1, 2, 3, 4, 5]);
  pending.get(4)!.resolve();
  pending.get(5)!.resolve();
  await run;
  await runAtMost([], 4, {}, () => Promise.reject(new Error("never called")));
});

Deno.test("runAtMost stops at the first failure, waits for the running walks, throws the first error", async () => {
  const pending = new Map<number, ReturnType<typeof deferred>>();
  const started: number[] = [];
  const halt: Halt = {};
  let settled = false;
  const run = runAtMost([1, 2, 3, 4], 2, halt, (n) => {
    started.push(n);
    const d = deferred();
    pending.set(n, d);
    return d.promise;
  }).finally(() => settled = true);
  run.catch(() => {});
  await turns();
  const first = new Error("walk 2 failed");
  pending.get(2)!.reject(first);
  await turns();
  assert.deepEqual(halt.failure, { error: first }, "the others see it before their next page");
  assert.deepEqual(started, [1, 2], "no walk starts after a failure");
  assert.equal(settled, false, "walk 1 is still running: the failure waits for it");
  pending.get(1)!.reject(new Error("walk 1 stopped because of walk 2"));
  await assert.rejects(run, (err) => err === first);
  assert.deepEqual(started, [1, 2]);
});

Deno.test("a checkpoint's cursors include an older checkpoint's `current` step", () => {
  const cursor = { next: "https://vendor/page?after=3", maxCreatedAt: "2026-01-01T00:00:00.000Z" };
  assert.deepEqual(cursorsOf({ done: ["a"], current: { step: "b", ...cursor } }), { b: cursor });
  assert.deepEqual(cursorsOf({ done: [], cursors: { c: cursor } }), { c: cursor });
  assert.deepEqual(cursorsOf({ done: [] }), {});
});

Deno.test("a job's steps are walked kind after kind, the accounts of one kind together", async () => {
  const steps = await planSteps({
    sync: true,
    createdFrom: { b: "2026-01-01T00:00:00.000Z", a: "2026-01-02T00:00:00.000Z" },
    ids: { a: ["1"] },
    deleted: ["x"],
  }, () => Promise.resolve(["b", "a"]));
  assert.deepEqual(runsOfOneKind(steps).map((run) => run.map((s) => s.key)), [
    ["created:a", "created:b"],
    ["ids:a"],
    ["sync:a", "sync:b"],
    ["deleted"],
  ]);
  assert.deepEqual(runsOfOneKind([]), []);
});
