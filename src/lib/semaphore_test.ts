// The semaphore: never more holders than its limit, waiters served in order, permits freed on error.
import assert from "node:assert/strict";
import { createSemaphore } from "./semaphore.ts";

Deno.test("at most `limit` run at once, and the waiting ones start in arrival order", async () => {
  const semaphore = createSemaphore(2);
  const started: number[] = [];
  let running = 0;
  let most = 0;
  const release: Array<() => void> = [];
  const jobs = [0, 1, 2, 3, 4].map((n) =>
    semaphore.run(async () => {
      started.push(n);
      most = Math.max(most, ++running);
      await new Promise<void>((r) => release.push(r));
      running--;
    })
  );
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(started, [0, 1]);
  while (release.length) {
    release.shift()!();
    await new Promise((r) => setTimeout(r, 0));
  }
  await Promise.all(jobs);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(most, 2);
  assert.equal(semaphore.held, 0);
});

Deno.test("a failing holder frees its permit", async () => {
  const semaphore = createSemaphore(1);
  await assert.rejects(semaphore.run(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await semaphore.run(() => Promise.resolve(7)), 7);
  assert.equal(semaphore.held, 0);
});
