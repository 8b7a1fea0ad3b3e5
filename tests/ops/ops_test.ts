// Health, readiness, unknown routes, request ids, the connector registry and failure answers.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import {
  createConnectorRegistry,
  registerBuiltInConnectors,
} from "../../src/connectors/connectors.service.ts";
import { createPool } from "../../src/db/pool.ts";
import { buildTestApp, newTenant, pluggyBody, startHarness } from "../support/harness.ts";

Deno.test("health and readiness answer without a token when everything is up", async () => {
  const h = await startHarness();
  try {
    const health = await h.request("/health");
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });
    const ready = await h.request("/ready");
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), {
      status: "ready",
      checks: { database: "ok", kv: "ok" },
    });
  } finally {
    await h.close();
  }
});

Deno.test("an unknown route is a 404 in the error envelope", async () => {
  const h = await startHarness();
  try {
    const res = await h.request("/v1/discovery/nothing-here", { tenant: newTenant() });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), {
      code: "MTCH-1404",
      title: "Not Found",
      message: "No such route.",
    });
  } finally {
    await h.close();
  }
});

Deno.test("a request id is echoed when well-formed and minted otherwise", async () => {
  const h = await startHarness();
  try {
    const given = await h.request("/health", { headers: { "X-Request-Id": "abc-123" } });
    await given.body?.cancel();
    assert.equal(given.headers.get("X-Request-Id"), "abc-123");
    const bad = await h.request("/health", { headers: { "X-Request-Id": "no spaces <allowed>" } });
    await bad.body?.cancel();
    assert.match(bad.headers.get("X-Request-Id")!, /^[0-9a-f-]{36}$/);
    assert.ok(h.logs.some((l) => JSON.parse(l).requestId === "abc-123"));
  } finally {
    await h.close();
  }
});

Deno.test("a connector registered at boot appears in connector types", async () => {
  const connectors = registerBuiltInConnectors(createConnectorRegistry());
  connectors.register({ type: "mysql", category: "database" });
  assert.throws(() => connectors.register({ type: "mysql", category: "database" }), /already/);
  const h = await startHarness({ connectors });
  try {
    const res = await h.request("/v1/discovery/connector-types", { tenant: newTenant() });
    assert.deepEqual((await res.json()).types, [
      { type: "mysql", category: "database" },
      { type: "postgres", category: "database" },
      { type: "rest-generic", category: "rest" },
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("when the database is unreachable, readiness and the API answer 503 with Retry-After", async () => {
  // Port 1 on loopback: nothing listens there, so every connection is refused.
  const sql = createPool("postgres://postgres@127.0.0.1:1/none", { max: 1 });
  const kv = await Deno.openKv(":memory:");
  const { app, secret, logs } = await buildTestApp(sql, kv);
  try {
    const ready = await app.request("/ready");
    assert.equal(ready.status, 503);
    assert.equal(ready.headers.get("Retry-After"), "5");
    assert.equal((await ready.json()).code, "MTCH-9503");

    const token = await new SignJWT({ tenant_id: newTenant() }).setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m").sign(secret);
    const res = await app.request("/v1/discovery/aggregator-connections", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(pluggyBody({ secret: "unreachable-canary" })),
    });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("Retry-After"), "5");
    assert.equal((await res.json()).code, "MTCH-9503");
    assert.ok(!logs.join("\n").includes("unreachable-canary"));
  } finally {
    await sql.end({ timeout: 1 });
    kv.close();
  }
});

Deno.test("an unexpected failure is a detail-free 500 whose log carries no query parameters", async () => {
  const h = await startHarness();
  try {
    await h.sql`alter table connections rename to connections_gone`;
    const res = await h.request("/v1/discovery/aggregator-connections", {
      method: "POST",
      tenant: newTenant(),
      json: pluggyBody({ configName: "canary-config-name", secret: "canary-500-secret" }),
    });
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), {
      code: "MTCH-9500",
      title: "Internal Server Error",
      message: "An unexpected error occurred.",
    });
    const errorLine = h.logs.map((l) => JSON.parse(l)).find((l) => l.level === "error");
    assert.ok(errorLine, "the failure is logged");
    assert.equal(errorLine.error.code, "42P01");
    const all = h.logs.join("\n");
    assert.ok(!all.includes("canary-config-name"), "no query parameter in the log");
    assert.ok(!all.includes("canary-500-secret"));
    await h.sql`alter table connections_gone rename to connections`;
  } finally {
    await h.close();
  }
});
