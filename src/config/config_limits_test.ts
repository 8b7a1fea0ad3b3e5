// The limits issue 13 added: pages per vendor walk and live tests per tenant, with safe defaults.
import assert from "node:assert/strict";
import { ConfigError, type DevSecrets, parseConfig } from "./config.ts";

const DEV: DevSecrets = {
  jwtSecret: "dev-secret-".padEnd(48, "x"),
  sealKeys: `dev1:${crypto.getRandomValues(new Uint8Array(32)).toBase64()}`,
};

Deno.test("pages per walk and live tests per tenant default to 10,000 and 30", () => {
  const config = parseConfig({}, () => DEV);
  assert.equal(config.pulls.maxPagesPerWalk, 10_000);
  assert.equal(config.connectionTestsPerTenantPerMinute, 30);
});

Deno.test("pages per walk and live tests per tenant can be set, to whole numbers above 0 only", () => {
  const config = parseConfig({
    MATCHER_PULL_MAX_PAGES_PER_WALK: "250",
    MATCHER_CONNECTION_TESTS_PER_TENANT_PER_MINUTE: "5",
  }, () => DEV);
  assert.equal(config.pulls.maxPagesPerWalk, 250);
  assert.equal(config.connectionTestsPerTenantPerMinute, 5);
  for (
    const name of [
      "MATCHER_PULL_MAX_PAGES_PER_WALK",
      "MATCHER_CONNECTION_TESTS_PER_TENANT_PER_MINUTE",
    ]
  ) {
    for (const value of ["0", "-1", "lots"]) {
      assert.throws(
        () => parseConfig({ [name]: value }, () => DEV),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.problems.includes(`${name} must be a whole number above 0`),
      );
    }
  }
});
