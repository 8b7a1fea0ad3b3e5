// Pull work: merging triggers into a queued job, the steps a job runs and their order, checkpoints.
import assert from "node:assert/strict";
import { cursorsOf, mergeWork, planSteps, runsOfOneKind } from "./work.ts";

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
