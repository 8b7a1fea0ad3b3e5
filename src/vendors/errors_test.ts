// Retry-After, in seconds or as an HTTP date.
import assert from "node:assert/strict";
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from "./errors.ts";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

Deno.test("Retry-After in seconds or as a date, never negative", () => {
  assert.equal(parseRetryAfter("60", T0), 60_000);
  assert.equal(parseRetryAfter(" 7 ", T0), 7_000);
  assert.equal(parseRetryAfter(new Date(T0 + 30_000).toUTCString(), T0), 30_000);
  assert.equal(parseRetryAfter(new Date(T0 - 30_000).toUTCString(), T0), 0);
  assert.equal(parseRetryAfter("soon", T0), undefined);
  assert.equal(parseRetryAfter(null, T0), undefined);
});

Deno.test("Retry-After is capped at an hour; a negative number or garbage is no Retry-After", () => {
  assert.equal(parseRetryAfter("9999999999999999", T0), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter("9".repeat(400), T0), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter("3600", T0), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter("3599", T0), 3_599_000);
  assert.equal(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", T0), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", T0), 0);
  for (const garbage of ["-5", "1.5", "1e3", "+275760-09-13T00:00:00Z", "Thursday", ""]) {
    assert.equal(parseRetryAfter(garbage, T0), undefined, garbage);
  }
});
