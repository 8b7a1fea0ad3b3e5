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

Deno.test("the next batch is being written before the items of the one before are answered", async () => {
  const w = gatedWriter();
  const submit = groupCommit(w.write, { maxBatch: 10, retryAlone: () => true });
  let writtenWhenAnswered: number[][] = [];
  const first = submit(1).then((value) => {
    writtenWhenAnswered = w.batches.map((batch) => [...batch]);
    return value;
  });
  const rest = [2, 3].map(submit);
  await w.release();
  assert.equal(await first, 10);
  assert.deepEqual(writtenWhenAnswered, [[1], [2, 3]]);
  await w.release();
  assert.deepEqual(await Promise.all(rest), [20, 30]);
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

Deno.test("with limits, a full queue refuses at once and a hung write refuses its items in time", async (t) => {
  /** Batches that never finish, as against a database backend that stopped answering. */
  const hung: number[][] = [];
  const never = (items: number[]) => {
    hung.push(items);
    return new Promise<ItemResult<number>[]>(() => {});
  };
  const refusals: string[] = [];
  const limits = {
    maxPending: 3,
    maxWaitMs: 50,
    refuse: (why: "full" | "late") => (refusals.push(why), new Error(why)),
  };
  const submit = groupCommit(never, { maxBatch: 2, retryAlone: () => true, limits });
  const settle = (n: number) => submit(n).then(String, (e: Error) => e.message);

  await t.step(
    "past maxPending waiting items, the next is refused before any write settles",
    async () => {
      const first = settle(1); // written at once, and hangs
      const waiting = [2, 3, 4].map(settle); // the queue is full
      assert.equal(await settle(5), "full");
      assert.deepEqual(refusals, ["full"]);
      assert.deepEqual(await first, "late");
      assert.deepEqual(await Promise.all(waiting), ["late", "late", "late"]);
    },
  );

  await t.step("a hung write does not hold the next batches: a few more are tried", () => {
    // After item 1's batch hung past maxWaitMs, the queued items went on in batches of their own.
    assert.deepEqual(hung, [[1], [2, 3]]);
  });

  await t.step("once that many writes hang, waiting items leave the queue when late", async () => {
    // [1] and [2, 3] hang; the next batch, [6, 7], is the last one tried while they do.
    assert.deepEqual(await Promise.all([6, 7, 8].map(settle)), ["late", "late", "late"]);
    assert.deepEqual(hung, [[1], [2, 3], [6, 7]], "item 8 waited in the queue, unwritten");
    assert.equal(await settle(9), "late");
    assert.equal(hung.length, 3, "no fourth write started");
  });
});

Deno.test("with limits, items written in time are answered and leave no timer behind", async () => {
  const w = gatedWriter();
  const limits = { maxPending: 10, maxWaitMs: 60_000, refuse: () => new Error("refused") };
  const submit = groupCommit(w.write, { maxBatch: 10, retryAlone: () => true, limits });
  const answers = [1, 2, 3].map(submit);
  while (w.batches.length < 2) await w.release();
  await w.release();
  // The test sanitizer fails the test if a 60 s timer were still pending here.
  assert.deepEqual(await Promise.all(answers), [10, 20, 30]);
});
