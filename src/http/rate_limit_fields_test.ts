// The RateLimit-Policy and RateLimit fields, as draft-ietf-httpapi-ratelimit-headers writes them.
import assert from "node:assert/strict";
import { rateLimitFields } from "./rate_limit_fields.ts";

Deno.test("the fields name the quota and carry q and w, then r and t", () => {
  assert.deepEqual(
    rateLimitFields("reads", { allowed: true, limit: 1200, remaining: 1187, resetSeconds: 42 }, 60),
    { "RateLimit-Policy": '"reads";q=1200;w=60', "RateLimit": '"reads";r=1187;t=42' },
  );
  assert.deepEqual(
    rateLimitFields("webhook", { allowed: false, limit: 5, remaining: 0, resetSeconds: 1 }, 60),
    { "RateLimit-Policy": '"webhook";q=5;w=60', "RateLimit": '"webhook";r=0;t=1' },
  );
});
