// Retry-After, in seconds or as an HTTP date.
import assert from "node:assert/strict";
import { parseRetryAfter } from "./errors.ts";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

Deno.test("Retry-After in seconds or as a date, never negative", () => {
  assert.equal(parseRetryAfter("60", T0), 60_000);
  assert.equal(parseRetryAfter(" 7 ", T0), 7_000);
  assert.equal(parseRetryAfter(new Date(T0 + 30_000).toUTCString(), T0), 30_000);
  assert.equal(parseRetryAfter(new Date(T0 - 30_000).toUTCString(), T0), 0);
  assert.equal(parseRetryAfter("soon", T0), undefined);
  assert.equal(parseRetryAfter(null, T0), undefined);
});
