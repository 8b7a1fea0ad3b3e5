// Who may call the API: the 401 matrix, the tenant claim, issuer/audience, JWKS, and tenant sources.
import assert from "node:assert/strict";
import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from "jose";
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

/** A JWT signed with `key` (HS256 unless told), carrying exactly `claims`. */
function hs256(key: Uint8Array, claims: JWTPayload, alg = "HS256"): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).sign(key);
}

/** An unsecured JWT (`alg: none`) built by hand: header.payload. with an empty signature. */
function unsecured(claims: JWTPayload): string {
  const part = (value: unknown) =>
    (new TextEncoder().encode(JSON.stringify(value))).toBase64({
      alphabet: "base64url",
      omitPadding: true,
    });
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.`;
}

async function countConnections(h: Harness): Promise<number> {
  const [row] = await h.sql<{ n: number }[]>`select count(*)::int as n from connections`;
  return row.n;
}

/**
 * Attempts a create with the given Authorization header (none when undefined) and checks the
 * whole 401 answer: status, envelope, challenge header, no token echoed, and no row written.
 */
async function expectUnauthorized(h: Harness, authorization: string | undefined): Promise<void> {
  const before = await countConnections(h);
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.Authorization = authorization;
  const res = await h.request(BASE, {
    method: "POST",
    headers,
    json: pluggyBody({ configName: `attempt-${crypto.randomUUID()}` }),
  });
  assert.equal(res.status, 401);
  assert.match(res.headers.get("Content-Type") ?? "", /^application\/json/);
  const challenge = res.headers.get("WWW-Authenticate");
  assert.ok(challenge, "a 401 carries a WWW-Authenticate challenge");
  assert.match(challenge, /^Bearer\b/);
  const text = await res.text();
  const body = JSON.parse(text);
  assert.deepEqual(Object.keys(body).sort(), ["code", "message", "title"]);
  assert.equal(body.code, "MTCH-1401");
  assert.equal(body.title, "Unauthorized");
  assert.equal(typeof body.message, "string");
  assert.ok(body.message.length > 0);
  const token = authorization?.replace(/^\S+\s+/, "");
  if (token) assert.ok(!text.includes(token), "the answer never echoes the presented token");
  assert.equal(await countConnections(h), before, "a refused request creates nothing");
}

Deno.test("requests without a valid bearer token are refused with 401 and create nothing", async (t) => {
  const secret = randomKey();
  const h = await startHarness({ auth: { secret } });
  const tenant = newTenant();
  const valid = (claims: JWTPayload = {}) =>
    hs256(secret, { tenant_id: tenant, exp: now() + 600, ...claims });
  try {
    await t.step("a valid token for the same request is accepted (the control case)", async () => {
      const res = await h.request(BASE, {
        method: "POST",
        headers: { Authorization: `Bearer ${await valid()}` },
        json: pluggyBody({ configName: "control" }),
      });
      assert.equal(res.status, 201);
      assert.equal(await countConnections(h), 1);
    });

    await t.step("no Authorization header is 401", async () => {
      await expectUnauthorized(h, undefined);
    });

    await t.step("an empty Authorization header is 401", async () => {
      await expectUnauthorized(h, "");
    });

    await t.step("the Basic scheme is 401", async () => {
      await expectUnauthorized(h, `Basic ${btoa("user:password")}`);
    });

    await t.step("a valid token under the Basic scheme is 401", async () => {
      await expectUnauthorized(h, `Basic ${await valid()}`);
    });

    await t.step("a bare token without a scheme is 401", async () => {
      await expectUnauthorized(h, await valid());
    });

    await t.step("a token signed with another secret is 401", async () => {
      const forged = await hs256(randomKey(), { tenant_id: tenant, exp: now() + 600 });
      await expectUnauthorized(h, `Bearer ${forged}`);
    });

    await t.step("a valid token with a tampered payload is 401", async () => {
      const [header, , signature] = (await valid()).split(".");
      const payload =
        (new TextEncoder().encode(JSON.stringify({ tenant_id: newTenant(), exp: now() + 600 })))
          .toBase64({ alphabet: "base64url", omitPadding: true });
      await expectUnauthorized(h, `Bearer ${header}.${payload}.${signature}`);
    });

    await t.step("an unsecured alg:none token is 401", async () => {
      await expectUnauthorized(h, `Bearer ${unsecured({ tenant_id: tenant, exp: now() + 600 })}`);
    });

    await t.step("an expired token is 401", async () => {
      await expectUnauthorized(h, `Bearer ${await valid({ exp: now() - 300 })}`);
    });

    await t.step("a token that is not yet valid (nbf in the future) is 401", async () => {
      await expectUnauthorized(h, `Bearer ${await valid({ nbf: now() + 300 })}`);
    });

    await t.step("a token without exp is 401", async () => {
      const token = await hs256(secret, { tenant_id: tenant, iat: now() });
      await expectUnauthorized(h, `Bearer ${token}`);
    });

    await t.step("a token without a tenant claim is 401", async () => {
      const token = await hs256(secret, { sub: "someone", exp: now() + 600 });
      await expectUnauthorized(h, `Bearer ${token}`);
    });

    await t.step("a token whose tenant_id is not a UUID is 401", async () => {
      await expectUnauthorized(h, `Bearer ${await valid({ tenant_id: "tenant-1" })}`);
    });

    await t.step("a token whose tenant_id is a UUID with extra text is 401", async () => {
      await expectUnauthorized(h, `Bearer ${await valid({ tenant_id: `${tenant}x` })}`);
    });

    await t.step("a token whose tenant_id is a number is 401", async () => {
      await expectUnauthorized(h, `Bearer ${await valid({ tenant_id: 42 })}`);
    });

    await t.step("a malformed body without a token is 401, not 400", async () => {
      const res = await h.request(BASE, {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: "not json",
      });
      assert.equal(res.status, 401);
      assert.equal((await res.json()).code, "MTCH-1401");
    });

    await t.step("reads are protected as well as writes", async () => {
      const paths = [BASE, `${BASE}/${crypto.randomUUID()}`, "/v1/discovery/connector-types"];
      for (const path of paths) {
        const res = await h.request(path);
        assert.equal(res.status, 401, path);
        assert.ok(res.headers.get("WWW-Authenticate"), path);
        assert.equal((await res.json()).code, "MTCH-1401", path);
      }
    });

    // openapi.yaml's security decides which operations need a JWT; a path that is no operation
    // (the spec is public at /openapi.json) is a 404 with or without a token.
    await t.step("a path that is no operation is 404, token or not", async () => {
      const paths = [
        "/v1/discovery/no-such-route",
        "/v1/discovery/webhooks/pluggy/mwh_token/", // the receiver's path with a trailing slash
        "/v1/discovery/webhooks//mwh_token",
      ];
      for (const path of paths) {
        for (const tenant of [undefined, newTenant()]) {
          const res = await h.request(path, { method: "POST", tenant });
          assert.equal(res.status, 404, path);
          assert.equal((await res.json()).code, "MTCH-1404", path);
        }
      }
    });
  } finally {
    await h.close();
  }
});

Deno.test("issuer and audience are checked when configured", async (t) => {
  const secret = randomKey();
  const issuer = "https://issuer.example.com";
  const audience = "matcher-discovery";
  const h = await startHarness({ auth: { secret, issuer, audience } });
  const tenant = newTenant();
  const token = (claims: JWTPayload) =>
    hs256(secret, { tenant_id: tenant, exp: now() + 600, iss: issuer, aud: audience, ...claims });
  try {
    await t.step("a token from another issuer is 401", async () => {
      await expectUnauthorized(h, `Bearer ${await token({ iss: "https://evil.example.com" })}`);
    });

    await t.step("a token for another audience is 401", async () => {
      await expectUnauthorized(h, `Bearer ${await token({ aud: "someone-else" })}`);
    });

    await t.step("a token without iss is 401", async () => {
      await expectUnauthorized(h, `Bearer ${await token({ iss: undefined })}`);
    });

    await t.step("a token without aud is 401", async () => {
      await expectUnauthorized(h, `Bearer ${await token({ aud: undefined })}`);
    });

    await t.step("a token with the right issuer and audience is accepted", async () => {
      const res = await h.request(BASE, {
        method: "POST",
        headers: { Authorization: `Bearer ${await token({})}` },
        json: pluggyBody(),
      });
      assert.equal(res.status, 201);
      const rows = await h.sql`select tenant_id from connections`;
      assert.deepEqual(rows.map((r) => r.tenant_id), [tenant]);
    });
  } finally {
    await h.close();
  }
});

Deno.test("the tenantId claim names the tenant just as tenant_id does", async () => {
  const secret = randomKey();
  const h = await startHarness({ auth: { secret } });
  const tenant = newTenant();
  try {
    const camel = await hs256(secret, { tenantId: tenant, exp: now() + 600 });
    const created = await h.request(BASE, {
      method: "POST",
      headers: { Authorization: `Bearer ${camel}` },
      json: pluggyBody(),
    });
    assert.equal(created.status, 201);
    const { id } = await created.json();

    const snake = await hs256(secret, { tenant_id: tenant, exp: now() + 600 });
    const list = await h.request(BASE, { headers: { Authorization: `Bearer ${snake}` } });
    assert.equal(list.status, 200);
    assert.deepEqual((await list.json()).items.map((c: { id: string }) => c.id), [id]);

    const [row] = await h.sql`select tenant_id from connections where id = ${id}`;
    assert.equal(row.tenant_id, tenant);
  } finally {
    await h.close();
  }
});

Deno.test("an upper-case tenant_id names the same tenant as its lower-case form", async () => {
  const secret = randomKey();
  const h = await startHarness({ auth: { secret } });
  const tenant = newTenant();
  try {
    const upper = await hs256(secret, { tenant_id: tenant.toUpperCase(), exp: now() + 600 });
    const created = await h.request(BASE, {
      method: "POST",
      headers: { Authorization: `Bearer ${upper}` },
      json: pluggyBody(),
    });
    assert.equal(created.status, 201);
    const { id } = await created.json();
    const lower = await hs256(secret, { tenant_id: tenant, exp: now() + 600 });
    const got = await h.request(`${BASE}/${id}`, { headers: { Authorization: `Bearer ${lower}` } });
    assert.equal(got.status, 200);
    assert.equal((await got.json()).id, id);
  } finally {
    await h.close();
  }
});

Deno.test("tokens are verified through AUTH_JWKS_URL when it is configured", async (t) => {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "key-1", alg: "RS256", use: "sig" };
  const jwks = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) =>
      new URL(req.url).pathname === "/.well-known/jwks.json"
        ? Response.json({ keys: [jwk] })
        : new Response("not found", { status: 404 }),
  );
  const jwksUrl = new URL(`http://127.0.0.1:${jwks.addr.port}/.well-known/jwks.json`);
  const h = await startHarness({ auth: { secret: undefined, jwksUrl } });
  const tenant = newTenant();
  const claims = () => ({ tenant_id: tenant, exp: now() + 600 });
  const rs256 = (key: Parameters<SignJWT["sign"]>[0], kid: string) =>
    new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid }).sign(key);
  try {
    await t.step("an RS256 token signed by a published key is accepted", async () => {
      const res = await h.request(BASE, {
        method: "POST",
        headers: { Authorization: `Bearer ${await rs256(privateKey, "key-1")}` },
        json: pluggyBody(),
      });
      assert.equal(res.status, 201);
      const list = await h.request(BASE, {
        headers: { Authorization: `Bearer ${await rs256(privateKey, "key-1")}` },
      });
      assert.equal(list.status, 200);
      assert.equal((await list.json()).items.length, 1);
    });

    await t.step(
      "an HS256 token keyed with the public key is 401 (algorithm confusion)",
      async () => {
        const spki = new TextEncoder().encode(await exportSPKI(publicKey));
        await expectUnauthorized(h, `Bearer ${await hs256(spki, claims())}`);
        const jwkText = new TextEncoder().encode(JSON.stringify(jwk));
        await expectUnauthorized(h, `Bearer ${await hs256(jwkText, claims())}`);
      },
    );

    await t.step("an HS256 token signed with any secret is 401", async () => {
      await expectUnauthorized(h, `Bearer ${await hs256(randomKey(), claims())}`);
    });

    await t.step("an RS256 token from an unknown key is 401", async () => {
      const other = await generateKeyPair("RS256");
      await expectUnauthorized(h, `Bearer ${await rs256(other.privateKey, "key-2")}`);
    });

    await t.step("an RS256 token from another key claiming a published kid is 401", async () => {
      const other = await generateKeyPair("RS256");
      await expectUnauthorized(h, `Bearer ${await rs256(other.privateKey, "key-1")}`);
    });

    await t.step("an unsecured alg:none token is 401", async () => {
      await expectUnauthorized(h, `Bearer ${unsecured(claims())}`);
    });
  } finally {
    await h.close();
    await jwks.shutdown();
  }
});

Deno.test("a tenantId in the body never decides the tenant: it is a 400 unknown field", async () => {
  const h = await startHarness();
  const tenant = newTenant();
  const other = newTenant();
  try {
    const res = await h.request(BASE, {
      method: "POST",
      tenant,
      json: pluggyBody({ tenantId: other }),
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.code, "MTCH-1001");
    assert.equal(body.title, "Bad Request");
    assert.deepEqual(body.details.fields, [{ field: "tenantId", message: "is not a known field" }]);
    const [row] = await h.sql<{ n: number }[]>`select count(*)::int as n from connections`;
    assert.equal(row.n, 0, "no row was written for either tenant");
  } finally {
    await h.close();
  }
});

Deno.test("a tenant_id query parameter never selects another tenant's rows", async () => {
  const h = await startHarness();
  const tenant = newTenant();
  const other = newTenant();
  try {
    const mine = await h.request(BASE, { method: "POST", tenant, json: pluggyBody() });
    assert.equal(mine.status, 201);
    const theirs = await h.request(BASE, { method: "POST", tenant: other, json: pluggyBody() });
    assert.equal(theirs.status, 201);
    const theirId = (await theirs.json()).id;

    // The list's query is closed (only limit and cursor), so the parameter is refused outright
    // rather than silently ignored; either way the other tenant's rows never appear.
    const res = await h.request(`${BASE}?tenant_id=${other}`, { tenant });
    const text = await res.text();
    assert.ok(!text.includes(theirId), "the other tenant's connection is never listed");
    assert.equal(res.status, 400);
    const body = JSON.parse(text);
    assert.equal(body.code, "MTCH-1002");
    assert.deepEqual(body.details.fields, [{
      field: "tenant_id",
      message: "is not a known field",
    }]);
  } finally {
    await h.close();
  }
});

Deno.test("a tenant header never decides the tenant: the list shows only the JWT tenant's rows", async () => {
  const h = await startHarness();
  const tenant = newTenant();
  const other = newTenant();
  try {
    const mine = await h.request(BASE, { method: "POST", tenant, json: pluggyBody() });
    const myId = (await mine.json()).id;
    const theirs = await h.request(BASE, { method: "POST", tenant: other, json: pluggyBody() });
    assert.equal(theirs.status, 201);
    await theirs.body?.cancel();

    const res = await h.request(BASE, {
      tenant,
      headers: { "X-Tenant-Id": other, "Tenant-Id": other },
    });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).items.map((c: { id: string }) => c.id), [myId]);
  } finally {
    await h.close();
  }
});

Deno.test("when the JWKS cannot be fetched, requests are 503 with Retry-After, not 401", async () => {
  // Port 1 on loopback: nothing listens there, so fetching the key set fails.
  const h = await startHarness({
    auth: { secret: undefined, jwksUrl: new URL("http://127.0.0.1:1/jwks.json") },
  });
  try {
    const { privateKey } = await generateKeyPair("RS256");
    const token = await new SignJWT({ tenant_id: newTenant(), exp: now() + 600 })
      .setProtectedHeader({ alg: "RS256", kid: "key-1" }).sign(privateKey);
    const res = await h.request(BASE, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("Retry-After"), "5");
    assert.equal((await res.json()).code, "MTCH-9503");
    // A token that is not even a JWT is still the caller's fault.
    const garbage = await h.request(BASE, { headers: { Authorization: "Bearer not.a.jwt" } });
    assert.equal(garbage.status, 401);
    await garbage.body?.cancel();
  } finally {
    await h.close();
  }
});
