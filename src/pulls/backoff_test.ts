// Retry delays: doubling with equal jitter up to an hour, never sooner than Retry-After.
import assert from "node:assert/strict";
import { BASE_DELAY_MS, MAX_DELAY_MS, retryDelayMs } from "./backoff.ts";

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

Deno.test("no delay passes the hour, whatever Retry-After says, and a NaN one is ignored", () => {
  assert.equal(retryDelayMs(1, 1e19, () => 1), MAX_DELAY_MS);
  assert.equal(retryDelayMs(1, Infinity, () => 1), MAX_DELAY_MS);
  assert.equal(retryDelayMs(1, NaN, () => 1), BASE_DELAY_MS);
  assert.equal(retryDelayMs(1, -5_000, () => 1), BASE_DELAY_MS);
  assert.equal(retryDelayMs(1_000, 0, () => 1), MAX_DELAY_MS);
});
