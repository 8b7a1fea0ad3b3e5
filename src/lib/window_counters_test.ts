// KV counts per minute: summed per key and window, read back in batches, and past windows pruned.
import assert from "node:assert/strict";
import { createWindowCounters } from "./window_counters.ts";

const MINUTE = 60_000;

Deno.test("a time falls in one minute window, with the milliseconds left in it", () => {
  const counters = createWindowCounters({} as Deno.Kv, { prefix: "t", windowMs: MINUTE });
  assert.deepEqual(counters.windowAt(0), { window: 0, endsInMs: MINUTE });
  assert.deepEqual(counters.windowAt(MINUTE - 1), { window: 0, endsInMs: 1 });
  assert.deepEqual(counters.windowAt(5 * MINUTE + 12_500), { window: 5, endsInMs: 47_500 });
});

Deno.test("counts add up per key and window, and read back in batches of any size", async () => {
  using kv = await Deno.openKv(":memory:");
  const counters = createWindowCounters(kv, { prefix: "t", windowMs: MINUTE });
  const keys = Array.from({ length: 23 }, (_, i) => [`k${i}`]);
  await counters.add(7, keys.map((key, i) => [key, i + 1]));
  await counters.add(7, [[["k3"], 10], [["k3"], 5]]);
  await counters.add(8, [[["k3"], 2]]);
  const counts = await counters.read(7, [...keys, ["never"]]);
  assert.equal(counts.length, 24);
  assert.deepEqual(counts.slice(0, 5), [1, 2, 3, 19, 5]);
  assert.equal(counts[22], 23);
  assert.equal(counts[23], 0);
  assert.deepEqual(await counters.read(8, [["k3"], ["k4"]]), [2, 0]);
});

Deno.test("prune deletes the windows before the previous one, once per window", async () => {
  using kv = await Deno.openKv(":memory:");
  const counters = createWindowCounters(kv, { prefix: "t", windowMs: MINUTE });
  const other = createWindowCounters(kv, { prefix: "u", windowMs: MINUTE });
  for (const window of [1, 2, 3, 4]) {
    await counters.add(window, Array.from({ length: 150 }, (_, i) => [[`k${i}`], 1]));
  }
  await other.add(1, [[["k"], 1]]);
  counters.prune(4);
  await counters.settle();
  const windows = async (prefix: string) => {
    const seen = new Set<unknown>();
    for await (const e of kv.list({ prefix: [prefix] })) seen.add(e.key[1]);
    return [...seen];
  };
  assert.deepEqual(await windows("t"), [3, 4]);
  assert.deepEqual(await windows("u"), [1], "another prefix is left alone");

  // Within the same window it does not list again, even when old counts appear.
  await counters.add(1, [[["late"], 1]]);
  counters.prune(4);
  await counters.settle();
  assert.deepEqual(await windows("t"), [1, 3, 4]);
  counters.prune(5);
  await counters.settle();
  assert.deepEqual(await windows("t"), [4]);
});
