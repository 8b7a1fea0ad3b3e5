// The receiver's remembered tokens: no KV read per delivery, and a revocation that reaches the
// replica that made it at once and every other replica within MATCHER_WEBHOOK_TOKEN_CACHE_MS.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { buildTestApp, newTenant, pluggyBody, startHarness } from "../support/harness.ts";
import { createTestDatabase } from "../support/database.ts";
import { testClock } from "../support/pulls.ts";
import { createPool } from "../../src/db/pool.ts";
import { migrate } from "../../src/db/migrate.ts";

const TOKENS = "/v1/discovery/webhooks/tokens";

async function mintFor(h: Awaited<ReturnType<typeof startHarness>>, tenant: string) {
  const created = await h.request("/v1/discovery/aggregator-connections", {
    method: "POST",
    tenant,
    json: pluggyBody(),
  });
  assert.equal(created.status, 201);
  const minted = await h.request(TOKENS, {
    method: "POST",
    tenant,
    json: { vendor: "pluggy", connection_config_name: "pluggy-main" },
  });
  assert.equal(minted.status, 201);
  const { id, webhookUrl } = await minted.json();
  return { id: id as string, path: new URL(webhookUrl).pathname };
}

const itemUpdated = () => ({
  event: "item/updated",
  eventId: crypto.randomUUID(),
  itemId: "a1b2c3d4-5678-90ab-cdef-1234567890ab",
});

async function post(baseUrl: string, path: string) {
  const res = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(itemUpdated()),
  });
  await res.body?.cancel();
  return res.status;
}

Deno.test("a revoked token stops at once where it was revoked, and within the cache time elsewhere", async () => {
  const dir = await Deno.makeTempDir({ prefix: "matcher-token-cache-" });
  const kvPath = `${dir}/kv.sqlite3`;
  const clock = testClock();
  const a = await startHarness({ kvPath, webhookTokenCacheMs: 2_000, now: clock.now });
  const b = await startHarness({
    kvPath,
    replicaOf: { databaseUrl: a.databaseUrl },
    webhookTokenCacheMs: 2_000,
    now: clock.now,
  });
  try {
    const tenant = newTenant();
    const token = await mintFor(a, tenant);
    assert.equal(await post(a.baseUrl, token.path), 202);
    assert.equal(await post(b.baseUrl, token.path), 202); // b now remembers the token

    const revoked = await a.request(`${TOKENS}/${token.id}`, { method: "DELETE", tenant });
    assert.equal(revoked.status, 204);
    assert.equal(await post(a.baseUrl, token.path), 404, "the revoking replica forgets at once");
    assert.equal(await post(b.baseUrl, token.path), 202, "another trusts it for the cache time");
    clock.advance(2_001);
    assert.equal(await post(b.baseUrl, token.path), 404, "and no longer");
  } finally {
    await b.close();
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a burst of deliveries reads the token from KV once per cache time", async () => {
  const db = await createTestDatabase();
  const sql = createPool(db.url, { max: db.maxConnections });
  await migrate(sql);
  const kv = await Deno.openKv(":memory:");
  const reads: string[] = [];
  const counted = new Proxy(kv, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (name !== "get" || typeof value !== "function") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (key: Deno.KvKey, ...rest: unknown[]) => {
        reads.push(String(key[0]));
        return value.call(target, key, ...rest);
      };
    },
  });
  const clock = testClock();
  const built = await buildTestApp(sql, counted, { webhookTokenCacheMs: 2_000, now: clock.now });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    built.fetch,
  );
  const baseUrl = `http://127.0.0.1:${server.addr.port}`;
  try {
    const tenant = newTenant();
    const jwt = await new SignJWT({ tenant_id: tenant })
      .setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(built.secret);
    const api = (path: string, json: unknown) =>
      fetch(`${baseUrl}${path}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" },
        body: JSON.stringify(json),
      });
    assert.equal((await api("/v1/discovery/aggregator-connections", pluggyBody())).status, 201);
    const minted = await api(TOKENS, { vendor: "pluggy", connection_config_name: "pluggy-main" });
    const path = new URL((await minted.json()).webhookUrl).pathname;

    reads.length = 0;
    for (let i = 0; i < 20; i++) assert.equal(await post(baseUrl, path), 202);
    assert.equal(reads.filter((k) => k === "webhook_tokens").length, 1, "one look-up by hash");
    clock.advance(2_001);
    for (let i = 0; i < 5; i++) assert.equal(await post(baseUrl, path), 202);
    assert.equal(reads.filter((k) => k === "webhook_tokens").length, 2, "one more after it");
    // lastUsedAt is written once a minute; the remembered record knows it, so no read for it.
    assert.ok(reads.filter((k) => k === "webhook_tokens_by_tenant").length <= 2, reads.join());
  } finally {
    await server.shutdown();
    await built.pool.stop();
    await sql.end({ timeout: 5 });
    kv.close();
    await db.drop();
  }
});
