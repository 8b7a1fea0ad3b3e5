// The small pure pieces of the vendor clients: the Pluggy key cache, amounts, Retry-After, status
// classification and the vendor error code.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { signedAmount } from "../src/vendors/decimal.ts";
import { parseRetryAfter } from "../src/vendors/errors.ts";
import { createPluggyKeyCache, credentialId } from "../src/vendors/pluggy_keys.ts";
import { statusError } from "../src/vendors/vendor_json.ts";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const MINUTE = 60_000;

function jwt(expiresAt: number) {
  return new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setExpirationTime(
    Math.floor(expiresAt / 1000),
  ).sign(new Uint8Array(32));
}

Deno.test("the Pluggy key cache", async (t) => {
  await t.step("renews five minutes before exp", async () => {
    const cache = createPluggyKeyCache();
    cache.put("c", await jwt(T0 + 120 * MINUTE), T0);
    assert.ok(cache.get("c", T0 + 114 * MINUTE));
    assert.equal(cache.get("c", T0 + 116 * MINUTE), undefined);
  });
  await t.step("a short-lived key is kept for half its life, not dropped at once", async () => {
    const cache = createPluggyKeyCache();
    cache.put("c", await jwt(T0 + 4 * MINUTE), T0);
    assert.ok(cache.get("c", T0 + 1 * MINUTE));
    assert.equal(cache.get("c", T0 + 2 * MINUTE + 1), undefined);
  });
  await t.step("a key that is not a JWT is assumed to live Pluggy's two hours", () => {
    const cache = createPluggyKeyCache();
    cache.put("c", "opaque-key", T0);
    assert.equal(cache.get("c", T0 + 114 * MINUTE), "opaque-key");
    assert.equal(cache.get("c", T0 + 116 * MINUTE), undefined);
  });
  await t.step("forget drops only the key that failed, not a newer one", () => {
    const cache = createPluggyKeyCache();
    cache.put("c", "new-key", T0);
    cache.forget("c", "old-key");
    assert.equal(cache.get("c", T0), "new-key");
    cache.forget("c", "new-key");
    assert.equal(cache.get("c", T0), undefined);
  });
  await t.step("holds at most its size, dropping the oldest", () => {
    const cache = createPluggyKeyCache(2);
    cache.put("a", "ka", T0);
    cache.put("b", "kb", T0);
    cache.put("c", "kc", T0);
    assert.equal(cache.get("a", T0), undefined);
    assert.equal(cache.get("b", T0), "kb");
    assert.equal(cache.get("c", T0), "kc");
  });
  await t.step(
    "a credential's cache id depends on its secret, and does not contain it",
    async () => {
      const one = await credentialId("https://api.pluggy.ai", "id", "secret-one");
      const two = await credentialId("https://api.pluggy.ai", "id", "secret-two");
      const elsewhere = await credentialId("https://other.example", "id", "secret-one");
      assert.notEqual(one, two);
      assert.notEqual(one, elsewhere);
      assert.ok(!one.includes("secret-one"));
    },
  );
});

Deno.test("amounts are decimal text signed by direction", () => {
  assert.equal(signedAmount(12.5, "debit"), "-12.5");
  assert.equal(signedAmount(-12.5, "credit"), "12.5");
  assert.equal(signedAmount("0.10", "debit"), "-0.1");
  assert.equal(signedAmount(0, "debit"), "0", "no negative zero");
  assert.equal(signedAmount(1e-7, "credit"), "0.0000001");
  assert.equal(signedAmount(1e21, "debit"), "-1000000000000000000000");
  assert.throws(() => signedAmount("1" + "0".repeat(400), "credit"), RangeError);
});

Deno.test("Retry-After in seconds or as a date, never negative", () => {
  assert.equal(parseRetryAfter("60", T0), 60_000);
  assert.equal(parseRetryAfter(" 7 ", T0), 7_000);
  assert.equal(parseRetryAfter(new Date(T0 + 30_000).toUTCString(), T0), 30_000);
  assert.equal(parseRetryAfter(new Date(T0 - 30_000).toUTCString(), T0), 0);
  assert.equal(parseRetryAfter("soon", T0), undefined);
  assert.equal(parseRetryAfter(null, T0), undefined);
});

Deno.test("vendor status codes are classified for retries", async (t) => {
  const answer = (status: number, body: unknown = {}, headers: Record<string, string> = {}) => ({
    status,
    headers: new Headers(headers),
    body: new TextEncoder().encode(JSON.stringify(body)),
  });
  const cases: Array<[number, string, string]> = [
    [401, "credentials_rejected", "credentials_rejected"],
    [403, "credentials_rejected", "credentials_rejected"],
    [404, "not_found", "account_not_found"],
    [429, "rate_limited", "rate_limited"],
    [408, "transient", "vendor_unreachable"],
    [500, "transient", "vendor_unreachable"],
    [503, "transient", "vendor_unreachable"],
    [400, "permanent", "unexpected_response"],
    [422, "permanent", "unexpected_response"],
  ];
  for (const [status, kind, reason] of cases) {
    await t.step(`${status}: ${kind}`, () => {
      const err = statusError(answer(status), "op", T0);
      assert.equal(err.kind, kind);
      assert.equal(err.reason, reason);
      assert.equal(err.details.status, status);
    });
  }
  await t.step("the vendor code is kept only when it is a code, never free text", () => {
    const pluggy = statusError(
      answer(403, { code: 403, codeDescription: "CLIENT_DISABLED" }),
      "op",
      T0,
    );
    assert.equal(pluggy.details.vendorCode, "CLIENT_DISABLED");
    const belvo = statusError(answer(401, [{ code: "authentication_failed" }]), "op", T0);
    assert.equal(belvo.details.vendorCode, "authentication_failed");
    const prose = statusError(answer(400, { code: "your secret s3cr3t is wrong" }), "op", T0);
    assert.equal(prose.details.vendorCode, undefined);
    assert.ok(!prose.message.includes("s3cr3t"));
  });
});
