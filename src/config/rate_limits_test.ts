// The rate limit settings: generous defaults, any whole number, and 0 to turn a limit off.
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.ts";

const DEV = { jwtSecret: "dev-secret-".padEnd(48, "x"), sealKeys: `dev1:${"A".repeat(43)}=` };

Deno.test("every class of the tenant API and each webhook token has a limit by default", () => {
  assert.deepEqual(parseConfig({}, () => DEV).rateLimits, {
    perTenant: { reads: 1200, writes: 300, liveTests: 60, pulls: 120 },
    perWebhookToken: 600,
  });
});

Deno.test("each limit can be set, and 0 turns it off", () => {
  const config = parseConfig({
    MATCHER_RATE_LIMIT_READS_PER_MINUTE: "5000",
    MATCHER_RATE_LIMIT_WRITES_PER_MINUTE: "0",
    MATCHER_RATE_LIMIT_LIVE_TESTS_PER_MINUTE: " 7 ",
    MATCHER_RATE_LIMIT_PULLS_PER_MINUTE: "1",
    MATCHER_WEBHOOK_RATE_PER_TOKEN_PER_MINUTE: "0",
  }, () => DEV);
  assert.deepEqual(config.rateLimits, {
    perTenant: { reads: 5000, writes: 0, liveTests: 7, pulls: 1 },
    perWebhookToken: 0,
  });
});

Deno.test("a limit that is not a whole number is refused, each named in one message", () => {
  try {
    parseConfig({
      MATCHER_RATE_LIMIT_READS_PER_MINUTE: "-1",
      MATCHER_RATE_LIMIT_PULLS_PER_MINUTE: "1.5",
      MATCHER_WEBHOOK_RATE_PER_TOKEN_PER_MINUTE: "lots",
    }, () => DEV);
    assert.fail("accepted");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems.sort(), [
      "MATCHER_RATE_LIMIT_PULLS_PER_MINUTE must be a whole number",
      "MATCHER_RATE_LIMIT_READS_PER_MINUTE must be a whole number",
      "MATCHER_WEBHOOK_RATE_PER_TOKEN_PER_MINUTE must be a whole number",
    ]);
  }
});
