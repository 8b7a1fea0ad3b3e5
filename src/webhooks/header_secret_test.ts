// The header secret: random, shown as each vendor's header, matched only by its exact value.
import assert from "node:assert/strict";
import {
  hashHeaderSecret,
  headerSecretMatches,
  headerToConfigure,
  newHeaderSecret,
} from "./header_secret.ts";

Deno.test("a header secret is mwhs_ and 32 random bytes, and only its SHA-256 is kept", () => {
  const a = newHeaderSecret();
  const b = newHeaderSecret();
  assert.match(a, /^mwhs_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b);
  const hash = hashHeaderSecret(a);
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.ok(!hash.includes(a.slice(5, 15)));
});

Deno.test("Pluggy gets a header of its own, Belvo an Authorization value with a scheme", () => {
  assert.deepEqual(headerToConfigure("pluggy", "mwhs_x"), {
    name: "X-Matcher-Webhook-Secret",
    value: "mwhs_x",
  });
  assert.deepEqual(headerToConfigure("belvo", "mwhs_x"), {
    name: "Authorization",
    value: "Bearer mwhs_x",
  });
});

Deno.test("a delivery's header matches only the exact secret, with or without Bearer", () => {
  const secret = newHeaderSecret();
  const stored = hashHeaderSecret(secret);
  assert.equal(headerSecretMatches(secret, stored), true);
  assert.equal(headerSecretMatches(`Bearer ${secret}`, stored), true);
  assert.equal(headerSecretMatches(`bearer  ${secret} `, stored), true);
  for (
    const wrong of [
      undefined,
      "",
      "Bearer ",
      "Bearer",
      secret.slice(0, -1),
      `${secret}x`,
      secret.toUpperCase(),
      `Basic ${secret}`,
      newHeaderSecret(),
      stored,
    ]
  ) {
    assert.equal(headerSecretMatches(wrong, stored), false, String(wrong));
  }
  // The hash of nothing is no key to a token either.
  assert.equal(headerSecretMatches(undefined, hashHeaderSecret("")), false);
  assert.equal(headerSecretMatches("", hashHeaderSecret("")), false);
});
