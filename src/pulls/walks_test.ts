// Walks at once: at most K at a time, in order, the first failure stopping the rest.
import assert from "node:assert/strict";
import { type Halt, runAtMost } from "./walks.ts";

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
