// The client's reading of the RateLimit fields and Retry-After, including what it must not guess.
import assert from "node:assert/strict";
import { readRateLimit, retryAfterSeconds } from "../../clients/typescript/client.ts";

const headers = (fields: Record<string, string>) => new Headers(fields);

Deno.test("readRateLimit reads the quota's name, q and w, then r and t", () => {
  assert.deepEqual(
    readRateLimit(headers({
      "RateLimit-Policy": '"reads";q=1200;w=60',
      "RateLimit": '"reads";r=1187;t=42',
    })),
    { policy: "reads", limit: 1200, windowSeconds: 60, remaining: 1187, resetSeconds: 42 },
  );
  // The first item of a list, with spaces and parameters it does not know.
  assert.deepEqual(
    readRateLimit(headers({
      "RateLimit-Policy": '"webhook"; q=5; w=60; pk=:YQ==:, "daily";q=100;w=86400',
      "RateLimit": '"webhook";r=0;t=1;acme-x=3',
    })),
    { policy: "webhook", limit: 5, windowSeconds: 60, remaining: 0, resetSeconds: 1 },
  );
});

Deno.test("readRateLimit answers nothing for fields it cannot pair or read", () => {
  const cases: Array<Record<string, string>> = [
    {},
    { "RateLimit": '"reads";r=1;t=2' },
    { "RateLimit-Policy": '"reads";q=3;w=60', "RateLimit": '"writes";r=1;t=2' },
    { "RateLimit-Policy": '"reads";w=60', "RateLimit": '"reads";r=1;t=2' },
    { "RateLimit-Policy": '"reads";q=3;w=60', "RateLimit": '"reads";t=2' },
    { "RateLimit-Policy": "reads;q=3", "RateLimit": "reads;r=1" },
  ];
  for (const fields of cases) assert.equal(readRateLimit(headers(fields)), undefined);
});

Deno.test("retryAfterSeconds reads delay seconds only", () => {
  assert.equal(retryAfterSeconds(headers({ "Retry-After": "45" })), 45);
  assert.equal(
    retryAfterSeconds(headers({ "Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT" })),
    undefined,
  );
  assert.equal(retryAfterSeconds(headers({})), undefined);
});
