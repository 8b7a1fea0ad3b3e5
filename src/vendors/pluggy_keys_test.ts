// The Pluggy key cache: renewal before exp, expiry, forgetting a refused key, size bound.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { createPluggyKeyCache, credentialId } from "./pluggy_keys.ts";

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
