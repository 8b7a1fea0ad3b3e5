// Pull work: its stored parts, the steps a job runs and their order, checkpoints.
import assert from "node:assert/strict";
import { cursorsOf, joinWork, planSteps, runsOfOneKind, splitWork } from "./work.ts";

Deno.test("work splits into its row's part and one item per transaction id, and back", () => {
  const work = {
    sync: true,
    createdFrom: { a: "2026-01-02T00:00:00.000Z" },
    full: ["c"],
    ids: { a: ["1", "2"], b: ["3"] },
    deleted: ["x"],
  };
  const split = splitWork(work);
  assert.deepEqual(split.work, {
    sync: true,
    createdFrom: { a: "2026-01-02T00:00:00.000Z" },
    full: ["c"],
  });
  assert.deepEqual(split.items, [
    { kind: "ids", account: "a", id: "1" },
    { kind: "ids", account: "a", id: "2" },
    { kind: "ids", account: "b", id: "3" },
    { kind: "deleted", account: "", id: "x" },
  ]);
  assert.deepEqual(joinWork(split.work, split.items), work);
  assert.deepEqual(splitWork({}), { work: {}, items: [] });
});

Deno.test("an account walked whole replaces its sync step, after the targeted fetches", async () => {
  const steps = await planSteps(
    { sync: true, full: ["acc-2", "acc-3"], ids: { "acc-1": ["1"] } },
    () => Promise.resolve(["acc-1", "acc-2"]),
  );
  assert.deepEqual(steps.map((s) => s.key), [
    "ids:acc-1",
    "full:acc-2",
    "full:acc-3",
    "sync:acc-1",
  ]);
  const alone = await planSteps({ full: ["acc-1"] }, () => assert.fail("no sync, no listing"));
  assert.deepEqual(alone.map((s) => s.key), ["full:acc-1"]);
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
