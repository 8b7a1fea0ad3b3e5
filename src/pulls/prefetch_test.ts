// Reading one page ahead: the next page is asked for while this one is stored, and no further.
import assert from "node:assert/strict";
import { prefetch } from "./prefetch.ts";

/** A source that logs when each item is asked for and when it is handed out. */
function source(count: number, log: string[], failAt = -1) {
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (let i = 0; i < count; i++) {
          log.push(`fetch ${i}`);
          await Promise.resolve();
          if (i === failAt) throw new Error(`page ${i} failed`);
          yield i;
        }
      } finally {
        log.push("source ended");
      }
    },
  };
}

Deno.test("the next item is fetched while the consumer works on this one, one ahead at most", async () => {
  const log: string[] = [];
  for await (const n of prefetch(source(3, log))) {
    await new Promise((r) => setTimeout(r, 1)); // storing the page
    log.push(`stored ${n}`);
  }
  assert.deepEqual(log, [
    "fetch 0",
    "fetch 1",
    "stored 0",
    "fetch 2",
    "stored 1",
    "source ended",
    "stored 2",
  ]);
});

Deno.test("a failed read ahead surfaces at the consumer's next turn, not before", async () => {
  const log: string[] = [];
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const n of prefetch(source(5, log, 2))) seen.push(n);
  }, /page 2 failed/);
  assert.deepEqual(seen, [0, 1]);
});

Deno.test("a consumer that stops early leaves a failing read ahead unobserved and ends the source", async () => {
  const log: string[] = [];
  for await (const n of prefetch(source(5, log, 1))) {
    assert.equal(n, 0);
    break; // e.g. the pool is stopping; page 1's failure must not become an unhandled rejection
  }
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(log, ["fetch 0", "fetch 1", "source ended"]);
});
