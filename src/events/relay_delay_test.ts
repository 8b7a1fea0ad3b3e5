// The relay's wait after failed rounds doubles from its minimum and is capped at its maximum.
import assert from "node:assert/strict";
import { relayDelayMs } from "./relay.service.ts";

const backoff = { minMs: 250, maxMs: 30_000 };

Deno.test("the relay's backoff doubles from its minimum and never exceeds its cap", () => {
  const top = (n: number) => relayDelayMs(n, backoff, () => 1);
  const bottom = (n: number) => relayDelayMs(n, backoff, () => 0);
  assert.deepEqual([1, 2, 3, 4].map(top), [250, 500, 1_000, 2_000]);
  assert.deepEqual([1, 2, 3].map(bottom), [125, 250, 500]);
  for (const n of [8, 9, 50, 1_000_000]) {
    assert.equal(top(n), 30_000);
    assert.equal(bottom(n), 15_000);
  }
  assert.equal(top(0), 250, "a first failure waits the minimum");
});
