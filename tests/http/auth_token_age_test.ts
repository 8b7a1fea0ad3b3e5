// A token's issue time: never in the future beyond the clock skew, and within AUTH_JWT_MAX_AGE_SECONDS.
import assert from "node:assert/strict";
import { type JWTPayload, SignJWT } from "jose";
import {
  type Harness,
  newTenant,
  pluggyBody,
  randomKey,
  startHarness,
} from "../support/harness.ts";

const BASE = "/v1/discovery/aggregator-connections";

/** Seconds since the epoch, as JWT time claims count them. */
const now = () => Math.floor(Date.now() / 1000);

function hs256(key: Uint8Array, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key);
}

/** A create with `token`; answers the status, checking a 401's envelope and challenge. */
async function create(h: Harness, token: string): Promise<number> {
  const res = await h.request(BASE, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    json: pluggyBody({ configName: `attempt-${crypto.randomUUID()}` }),
  });
  const text = await res.text();
  if (res.status === 401) {
    assert.match(res.headers.get("WWW-Authenticate") ?? "", /^Bearer\b/);
    assert.equal(JSON.parse(text).code, "MTCH-1401");
    assert.ok(!text.includes(token), "the answer never echoes the token");
  }
  return res.status;
}

Deno.test("a token issued in the future beyond the clock skew is 401", async (t) => {
  const secret = randomKey();
  const h = await startHarness({ auth: { secret } });
  const token = (iat: number) => hs256(secret, { tenant_id: newTenant(), iat, exp: now() + 900 });
  try {
    await t.step("iat five minutes ahead is refused", async () => {
      assert.equal(await create(h, await token(now() + 300)), 401);
    });
    await t.step("iat a day ahead is refused", async () => {
      assert.equal(await create(h, await token(now() + 86_400)), 401);
    });
    await t.step("iat ten seconds ahead, within the 30 s skew, is accepted", async () => {
      assert.equal(await create(h, await token(now() + 10)), 201);
    });
    await t.step("iat now, and no iat at all, are accepted", async () => {
      assert.equal(await create(h, await token(now())), 201);
      assert.equal(
        await create(h, await hs256(secret, { tenant_id: newTenant(), exp: now() + 60 })),
        201,
      );
    });
  } finally {
    await h.close();
  }
});

Deno.test("with a maximum token age, older tokens and tokens without iat are 401", async (t) => {
  const secret = randomKey();
  const h = await startHarness({ auth: { secret, maxAgeSeconds: 600 } });
  const token = (claims: JWTPayload) =>
    hs256(secret, { tenant_id: newTenant(), exp: now() + 900, ...claims });
  try {
    await t.step("a token issued an hour ago is refused although it has not expired", async () => {
      assert.equal(await create(h, await token({ iat: now() - 3600 })), 401);
    });
    await t.step("a token without iat is refused: its age is unknown", async () => {
      assert.equal(await create(h, await token({})), 401);
    });
    await t.step("a token issued in the future is refused", async () => {
      assert.equal(await create(h, await token({ iat: now() + 300 })), 401);
    });
    await t.step("a token issued a minute ago is accepted", async () => {
      assert.equal(await create(h, await token({ iat: now() - 60 })), 201);
    });
  } finally {
    await h.close();
  }

  // The control: without the setting, age is no reason to refuse.
  const open = await startHarness({ auth: { secret } });
  try {
    const old = await hs256(secret, { tenant_id: newTenant(), iat: now() - 3600, exp: now() + 60 });
    assert.equal(await create(open, old), 201);
  } finally {
    await open.close();
  }
});
