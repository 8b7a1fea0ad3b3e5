// A JWKS outage: requests answer 503 with Retry-After, the key set is fetched at most once a window.
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { boundedRemoteJwks, JwksUnavailable } from "../../src/http/jwks.ts";
import { newTenant, pluggyBody, startHarness } from "../support/harness.ts";

const BASE = "/v1/discovery/aggregator-connections";

type Key = Awaited<ReturnType<typeof generateKeyPair>>;

/** A local identity provider serving one public key; it counts fetches and can be taken down. */
async function startIdp(key: Key, kid: string) {
  const jwk = { ...(await exportJWK(key.publicKey)), kid, alg: "RS256", use: "sig" };
  const state = { up: false, fetches: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    state.fetches++;
    return state.up ? Response.json({ keys: [jwk] }) : new Response("down", { status: 503 });
  });
  return {
    url: new URL(`http://127.0.0.1:${server.addr.port}/.well-known/jwks.json`),
    state,
    close: () => server.shutdown(),
  };
}

function rs256(key: Key, kid: string): Promise<string> {
  return new SignJWT({ tenant_id: newTenant(), exp: Math.floor(Date.now() / 1000) + 600 })
    .setProtectedHeader({ alg: "RS256", kid }).sign(key.privateKey);
}

Deno.test({
  name:
    "during a JWKS outage requests are 503 with Retry-After, fetching once a window, and recover",
  // Regression: every request fetched the JWKS again while it failed (10 requests, 10 fetches).
  async fn() {
    const key = await generateKeyPair("RS256");
    const idp = await startIdp(key, "key-1");
    const retrySeconds = 2;
    const h = await startHarness({
      auth: { secret: undefined, jwksUrl: idp.url, jwksRetrySeconds: retrySeconds },
    });
    try {
      const token = await rs256(key, "key-1");
      const started = performance.now();
      for (let i = 0; i < 10; i++) {
        const res = await h.request(BASE, { headers: { Authorization: `Bearer ${token}` } });
        assert.equal(res.status, 503);
        const retryAfter = Number(res.headers.get("Retry-After"));
        assert.ok(retryAfter >= 1 && retryAfter <= retrySeconds, `Retry-After ${retryAfter}`);
        const body = await res.json();
        assert.equal(body.code, "MTCH-9503");
        assert.equal(body.title, "Service Unavailable");
      }
      // The bound: one fetch per retry window begun while the requests ran.
      const windows = 1 + Math.floor((performance.now() - started) / (retrySeconds * 1000));
      assert.ok(idp.state.fetches >= 1, "the key set was tried");
      assert.ok(
        idp.state.fetches <= windows,
        `${idp.state.fetches} fetches for 10 requests in ${windows} window(s)`,
      );

      // A token that is not a JWT is still the caller's fault, and costs no fetch.
      const before = idp.state.fetches;
      const garbage = await h.request(BASE, { headers: { Authorization: "Bearer not.a.jwt" } });
      assert.equal(garbage.status, 401);
      await garbage.body?.cancel();
      assert.equal(idp.state.fetches, before);

      // Recovery: once the window has passed, the next request fetches and tokens verify again.
      idp.state.up = true;
      let status = 0;
      for (let tries = 0; status !== 200 && tries < 100; tries++) {
        if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        const res = await h.request(BASE, { headers: { Authorization: `Bearer ${token}` } });
        status = res.status;
        await res.body?.cancel();
      }
      assert.equal(status, 200, "tokens verify again after the outage");
      const created = await h.request(BASE, {
        method: "POST",
        headers: { Authorization: `Bearer ${await rs256(key, "key-1")}` },
        json: pluggyBody(),
      });
      assert.equal(created.status, 201);
      await created.body?.cancel();
    } finally {
      await h.close();
      await idp.close();
    }
  },
});

Deno.test({
  name: "within the retry window a fresh cached key set still verifies its keys without a fetch",
  async fn() {
    const key = await generateKeyPair("RS256");
    const idp = await startIdp(key, "key-1");
    // No jose cooldown, so an unknown key id refetches at once, as it does 30 s after a fetch.
    const getKey = boundedRemoteJwks(idp.url, {
      retrySeconds: 60,
      remote: { cooldownDuration: 0 },
    });
    const verify = async (token: string) => (await jwtVerify(token, getKey)).payload.tenant_id;
    try {
      idp.state.up = true;
      assert.ok(await verify(await rs256(key, "key-1")));
      assert.equal(idp.state.fetches, 1);

      // The provider goes down; a token naming a key the set lacks needs a fetch, which fails.
      idp.state.up = false;
      const stranger = await rs256(await generateKeyPair("RS256"), "key-2");
      await assert.rejects(verify(stranger), JwksUnavailable);
      assert.equal(idp.state.fetches, 2);

      // Within the window: the cached key still verifies, the unknown one is 503-worthy, no fetch.
      for (let i = 0; i < 5; i++) {
        assert.ok(await verify(await rs256(key, "key-1")));
        await assert.rejects(verify(stranger), JwksUnavailable);
      }
      assert.equal(idp.state.fetches, 2);
    } finally {
      await idp.close();
    }
  },
});
