// Group commit: who shares a batch, how big batches get, and what happens when a batch fails.
import assert from "node:assert/strict";
import { groupCommit, type ItemResult } from "./group_commit.ts";

/** A writer that records its batches and finishes each only when the test releases it. */
function gatedWriter(fail: (items: number[]) => unknown = () => undefined) {
  const batches: number[][] = [];
  const gates: Array<() => void> = [];
  async function write(items: number[]): Promise<ItemResult<number>[]> {
    batches.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    const error = fail(items);
    if (error) throw error;
    return items.map((n) => n < 0 ? { error: new Error(`bad ${n}`) } : { value: n * 10 });
  }
  /** Lets the oldest waiting batch finish, then yields until the next batch has started. */
  async function release() {
    gates.shift()!();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
  return { batches, write, release };
}

Deno.test("a lone item is written at once; items arriving meanwhile share the next batch", async () => {
  const w = gatedWriter();
  const submit = groupCommit(w.write, { maxBatch: 100, retryAlone: () => true });
  const first = submit(1);
  assert.deepEqual(w.batches, [[1]]);
  const rest = [2, 3, 4, 5].map(submit);
  assert.deepEqual(w.batches, [[1]], "nothing more is written while a batch is in flight");
  await w.release();
  assert.equal(await first, 10);
  assert.deepEqual(w.batches, [[1], [2, 3, 4, 5]]);
  await w.release();
  assert.deepEqual(await Promise.all(rest), [20, 30, 40, 50]);
});

Deno.test("a batch takes at most maxBatch items; the rest go in the following ones", async () => {
  const w = gatedWriter();
  const submit = groupCommit(w.write, { maxBatch: 3, retryAlone: () => true });
  const answers = [0, 1, 2, 3, 4, 5, 6, 7].map(submit);
  while (w.batches.length < 4) await w.release();
  await w.release();
  assert.deepEqual(w.batches, [[0], [1, 2, 3], [4, 5, 6], [7]]);
  assert.deepEqual(await Promise.all(answers), [0, 10, 20, 30, 40, 50, 60, 70]);
});

Deno.test("an item's own failure rejects only that item", async () => {
  const w = gatedWriter();
  const submit = groupCommit(w.write, { maxBatch: 10, retryAlone: () => true });
  const answers = [1, -2, 3].map((n) => submit(n).catch((e: Error) => e.message));
  while (w.batches.length < 2) await w.release();
  await w.release();
  assert.deepEqual(await Promise.all(answers), [10, "bad -2", 30]);
});

Deno.test("a failed batch is written again item by item, unless the failure says not to", async (t) => {
  await t.step("retried alone: only the poisoned item fails", async () => {
    const poison = new Error("poison");
    const w = gatedWriter((items) => items.includes(7) ? poison : undefined);
    const submit = groupCommit(w.write, { maxBatch: 10, retryAlone: (e) => e === poison });
    const answers = [1, 6, 7, 8].map((n) => submit(n).catch((e: Error) => e.message));
    await w.release(); // [1]
    await w.release(); // [6, 7, 8] fails, and each of its items is written alone
    assert.deepEqual(w.batches, [[1], [6, 7, 8], [6], [7], [8]]);
    for (let i = 0; i < 3; i++) await w.release();
    assert.deepEqual(await Promise.all(answers), [10, 60, "poison", 80]);
  });
  await t.step("not retried: every item of the batch gets the batch's error", async () => {
    const down = new Error("database down");
    const w = gatedWriter((items) => items.length > 1 ? down : undefined);
    const submit = groupCommit(w.write, { maxBatch: 10, retryAlone: () => false });
    const answers = [1, 2, 3].map((n) => submit(n).catch((e: Error) => e.message));
    while (w.batches.length < 2) await w.release();
    await w.release();
    assert.deepEqual(await Promise.all(answers), [10, "database down", "database down"]);
    assert.deepEqual(w.batches, [[1], [2, 3]]);
  });
});
