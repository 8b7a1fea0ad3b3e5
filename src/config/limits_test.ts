// The request and database limits: documented defaults, overrides, and refused values.
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.ts";

const DEV = () => ({
  jwtSecret: "dev-secret-".padEnd(48, "x"),
  sealKeys: `dev1:${crypto.getRandomValues(new Uint8Array(32)).toBase64()}`,
});

Deno.test("the limits default to the README's values", () => {
  const config = parseConfig({}, DEV);
  assert.deepEqual(config.http, {
    headersTimeoutMs: 10_000,
    bodyTimeoutMs: 10_000,
    maxJsonDepth: 64,
  });
  assert.deepEqual(config.database, {
    statementTimeoutMs: 30_000,
    waitMs: 4_000,
    maxPendingWebhooks: 1_000,
  });
});

Deno.test("the limits are read from the environment; 0 turns off the two that may be off", () => {
  const config = parseConfig({
    MATCHER_HTTP_HEADERS_TIMEOUT_MS: "0",
    MATCHER_HTTP_BODY_TIMEOUT_MS: "2500",
    MATCHER_JSON_MAX_DEPTH: "16",
    MATCHER_DB_STATEMENT_TIMEOUT_MS: "0",
    MATCHER_DB_WAIT_MS: "1500",
    MATCHER_WEBHOOK_MAX_PENDING: "50",
  }, DEV);
  assert.deepEqual(config.http, { headersTimeoutMs: 0, bodyTimeoutMs: 2_500, maxJsonDepth: 16 });
  assert.deepEqual(config.database, {
    statementTimeoutMs: 0,
    waitMs: 1_500,
    maxPendingWebhooks: 50,
  });
});

Deno.test("a limit that is not a whole number, or 0 where it must hold, is refused", () => {
  const refused = [
    ["MATCHER_HTTP_HEADERS_TIMEOUT_MS", "-1"],
    ["MATCHER_HTTP_BODY_TIMEOUT_MS", "0"],
    ["MATCHER_JSON_MAX_DEPTH", "0"],
    ["MATCHER_DB_STATEMENT_TIMEOUT_MS", "1.5"],
    ["MATCHER_DB_WAIT_MS", "0"],
    ["MATCHER_WEBHOOK_MAX_PENDING", "lots"],
  ];
  for (const [name, value] of refused) {
    try {
      parseConfig({ [name]: value }, DEV);
      assert.fail(`${name}=${value} was accepted`);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.problems.length, 1, err.problems.join(" | "));
      assert.match(err.problems[0], new RegExp(`^${name} must be a whole number`));
    }
  }
});
