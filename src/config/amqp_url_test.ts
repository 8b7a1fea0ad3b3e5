// MATCHER_AMQP_URL: unset turns events off; an amqp:// or amqps:// URL turns them on; else refused.
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.ts";

const DEV = { jwtSecret: "d".repeat(40), sealKeys: `k1:${new Uint8Array(32).toBase64()}` };

Deno.test("MATCHER_AMQP_URL is off when unset, kept when an AMQP URL, and refused otherwise", () => {
  assert.equal(parseConfig({}, () => DEV).amqpUrl, undefined);
  for (const url of ["amqp://guest:guest@127.0.0.1:5672", "amqps://user:pw@broker.example/%2f"]) {
    assert.equal(parseConfig({ MATCHER_AMQP_URL: ` ${url} ` }, () => DEV).amqpUrl, url);
  }
  for (const bad of ["http://guest:secret@broker:5672", "broker:5672", "amqp://"]) {
    assert.throws(
      () => parseConfig({ MATCHER_AMQP_URL: bad }, () => DEV),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.includes("MATCHER_AMQP_URL must be an amqp:// or amqps:// URL") &&
        !err.message.includes("secret"),
      bad,
    );
  }
});
