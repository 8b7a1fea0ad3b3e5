// GET /metrics over real HTTP: off by default, guarded by its token, exact counts by route pattern,
// and never a token, a secret or a raw path in what it shows.
import assert from "node:assert/strict";
import { startFakePluggy } from "../fakes/pluggy.ts";
import { newTenant, pluggyBody, startHarness } from "../support/harness.ts";
import { parseExposition, samplesOf } from "../support/prometheus.ts";

const METRICS_TOKEN = "metrics-canary-token-0123456789abcdef";
const CONNECTIONS = "/v1/discovery/aggregator-connections";

Deno.test("/metrics is off by default: a 404 in the error envelope, whatever the token", async () => {
  const h = await startHarness();
  try {
    const tries: Record<string, string>[] = [{}, { Authorization: `Bearer ${METRICS_TOKEN}` }];
    for (const headers of tries) {
      const res = await h.request("/metrics", { headers });
      assert.equal(res.status, 404);
      assert.deepEqual(await res.json(), {
        code: "MTCH-1404",
        title: "Not Found",
        message: "No such route.",
      });
    }
  } finally {
    await h.close();
  }
});

Deno.test("/metrics answers 401 without the configured bearer token", async () => {
  const h = await startHarness({ metricsToken: METRICS_TOKEN });
  try {
    const refused = [
      undefined,
      "Bearer",
      `Bearer ${METRICS_TOKEN.slice(0, -1)}`,
      `Bearer ${METRICS_TOKEN}x`,
      `Bearer ${METRICS_TOKEN.toUpperCase()}`,
      `Basic ${btoa(`metrics:${METRICS_TOKEN}`)}`,
      `Bearer ${await h.token(newTenant())}`, // a tenant's JWT is not the metrics token
    ];
    for (const authorization of refused) {
      const res = await h.request("/metrics", {
        headers: authorization ? { Authorization: authorization } : {},
      });
      assert.equal(res.status, 401, String(authorization));
      assert.equal(res.headers.get("WWW-Authenticate"), 'Bearer realm="matcher-metrics"');
      const body = await res.json();
      assert.equal(body.code, "MTCH-1401");
      assert.ok(!JSON.stringify(body).includes(METRICS_TOKEN.slice(0, 20)), "no token echoed");
    }
    const ok = await h.request("/metrics", {
      headers: { Authorization: `bearer ${METRICS_TOKEN}` },
    });
    assert.equal(ok.status, 200, "the scheme name is case-insensitive");
    assert.equal(ok.headers.get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    parseExposition(await ok.text());
  } finally {
    await h.close();
  }
});

Deno.test("after a known sequence of requests the counters are exact and free of canaries", async () => {
  const h = await startHarness({ metricsToken: METRICS_TOKEN });
  try {
    const tenant = newTenant();
    const jwt = await h.token(tenant);
    const auth = { Authorization: `Bearer ${jwt}` };
    const canaries = {
      clientId: "canary-client-id-5f1c",
      secret: "canary-secret-9b2e",
      configName: "canary-config-7d3a",
      accountRef: "canary-account-ref-4e8b",
      pathToken: "whk_canary-path-token-2c6f",
      pathSegment: "canary-path-segment-8a1d",
      unmatchedPath: "canary-unmatched-path-3b7c",
    };
    const call = async (path: string, init: RequestInit & { json?: unknown } = {}) => {
      const res = await h.request(path, init);
      await res.body?.cancel();
      return res;
    };
    const create = {
      method: "POST",
      headers: auth,
      json: pluggyBody({
        clientId: canaries.clientId,
        secret: canaries.secret,
        configName: canaries.configName,
        accountRef: canaries.accountRef,
      }),
    };

    await call("/health");
    await call("/health");
    await call("/ready");
    const created = await h.request(CONNECTIONS, create);
    assert.equal(created.status, 201);
    const { id } = await created.json();
    assert.equal((await call(CONNECTIONS, create)).status, 409);
    assert.equal((await call(`${CONNECTIONS}/${id}`, { headers: auth })).status, 200);
    assert.equal(
      (await call(`${CONNECTIONS}/${canaries.pathSegment}`, { headers: auth })).status,
      404,
    );
    assert.equal((await call(CONNECTIONS)).status, 401);
    assert.equal((await call(`/v1/discovery/webhooks/pluggy/${canaries.pathToken}`)).status, 404);
    assert.equal((await call(`/hooks/${canaries.unmatchedPath}`)).status, 404);
    assert.equal((await call("/health", { method: "DELETE" })).status, 404);
    assert.equal((await call("/health", { method: "PURGE" })).status, 404);
    assert.equal((await call("/metrics")).status, 401);
    assert.equal(
      (await call("/metrics", { headers: { Authorization: "Bearer wrong" } })).status,
      401,
    );

    const scrape = async () => {
      const res = await h.request("/metrics", {
        headers: { Authorization: `Bearer ${METRICS_TOKEN}` },
      });
      assert.equal(res.status, 200);
      return await res.text();
    };
    const counts = (text: string) =>
      Object.fromEntries(
        samplesOf(parseExposition(text), "matcher_http_requests_total").map((
          { labels: { method, route, status }, value },
        ) => [`${method} ${route} ${status}`, value]),
      );

    const expected: Record<string, number> = {
      "GET /health 200": 2,
      "GET /ready 200": 1,
      [`POST ${CONNECTIONS} 201`]: 1,
      [`POST ${CONNECTIONS} 409`]: 1,
      [`GET ${CONNECTIONS}/:id 200`]: 1,
      [`GET ${CONNECTIONS}/:id 404`]: 1,
      [`GET ${CONNECTIONS} 401`]: 1,
      "GET (unmatched) 404": 2,
      "DELETE (unmatched) 404": 1,
      "OTHER (unmatched) 404": 1,
      "GET /metrics 401": 2,
    };
    const first = await scrape();
    assert.deepEqual(counts(first), expected, "a scrape does not count itself");
    const second = await scrape();
    assert.deepEqual(counts(second), { ...expected, "GET /metrics 200": 1 });

    const parsed = parseExposition(second);
    assert.equal(parsed.types.get("matcher_http_requests_total"), "counter");
    assert.equal(parsed.types.get("matcher_http_request_duration_seconds"), "histogram");
    const perRoute = new Map<string, number>();
    for (const [key, value] of Object.entries(counts(second))) {
      const [method, route] = key.split(" ");
      perRoute.set(`${method} ${route}`, (perRoute.get(`${method} ${route}`) ?? 0) + value);
    }
    for (const [key, total] of perRoute) {
      const [method, route] = key.split(" ");
      const labels = { method, route };
      const count = samplesOf(parsed, "matcher_http_request_duration_seconds_count", labels);
      assert.equal(count[0]?.value, total, `${key}: one duration per request`);
      const buckets = samplesOf(parsed, "matcher_http_request_duration_seconds_bucket", labels);
      const values = buckets.map((b) => b.value);
      assert.deepEqual(values, [...values].sort((a, b) => a - b), `${key}: cumulative buckets`);
      assert.equal(buckets.at(-1)?.labels.le, "+Inf");
      assert.equal(buckets.at(-1)?.value, total);
      const sum = samplesOf(parsed, "matcher_http_request_duration_seconds_sum", labels)[0].value;
      assert.ok(sum > 0 && sum < 60, `${key}: a plausible total duration (${sum} s)`);
    }

    const logs = h.logs.join("\n");
    const secrets = [...Object.values(canaries), jwt, METRICS_TOKEN, `${CONNECTIONS}/${id}`];
    for (const secret of secrets) {
      assert.ok(!second.includes(secret), `/metrics does not show ${secret}`);
      assert.ok(!logs.includes(secret), `the request log does not show ${secret}`);
    }
    assert.ok(!second.includes(tenant), "no tenant id either");
  } finally {
    await h.close();
  }
});

Deno.test("/metrics shows the process basics", async () => {
  const h = await startHarness({ metricsToken: METRICS_TOKEN });
  try {
    const res = await h.request("/metrics", {
      headers: { Authorization: `Bearer ${METRICS_TOKEN}` },
    });
    const parsed = parseExposition(await res.text());
    const one = (name: string) => samplesOf(parsed, name)[0]?.value;
    assert.ok(one("process_resident_memory_bytes") > 10_000_000);
    assert.ok(one("deno_heap_used_bytes") > 1_000_000);
    const started = one("process_start_time_seconds");
    assert.ok(started <= Date.now() / 1000 && started > Date.now() / 1000 - 3600, `${started}`);
    assert.equal(parsed.types.get("process_resident_memory_bytes"), "gauge");
  } finally {
    await h.close();
  }
});

Deno.test("vendor calls are counted by vendor, operation and outcome, and timed", async () => {
  const secret = "vendor-metrics-secret-canary";
  const pluggy = await startFakePluggy({ clients: [{ clientId: "id", clientSecret: secret }] });
  const h = await startHarness({
    metricsToken: METRICS_TOKEN,
    egress: { allowHosts: [pluggy.host], allowHttp: true },
    vendorHttp: { connectTimeoutMs: 300, timeoutMs: 600 },
  });
  try {
    const tenant = newTenant();
    const itemId = pluggy.items[0].id;
    const created = await h.request(CONNECTIONS, {
      method: "POST",
      tenant,
      json: pluggyBody({ baseUrl: pluggy.url, accountRef: itemId, clientId: "id", secret }),
    });
    assert.equal(created.status, 201);
    const test = async () => {
      const res = await h.request(`${CONNECTIONS}/test`, {
        method: "POST",
        tenant,
        json: { vendor: "pluggy", configName: "pluggy-main" },
      });
      return (await res.json()).healthy;
    };
    assert.equal(await test(), true);
    pluggy.faults.add({ path: `/items/${itemId}`, fault: { status: 429 } });
    assert.equal(await test(), false);
    pluggy.faults.add({ path: `/items/${itemId}`, fault: { delayMs: 1_500 } });
    assert.equal(await test(), false);

    const res = await h.request("/metrics", {
      headers: { Authorization: `Bearer ${METRICS_TOKEN}` },
    });
    const text = await res.text();
    const parsed = parseExposition(text);
    const calls = Object.fromEntries(
      samplesOf(parsed, "matcher_vendor_calls_total").map((
        { labels: { vendor, operation, outcome }, value },
      ) => [`${vendor} ${operation} ${outcome}`, value]),
    );
    assert.deepEqual(calls, {
      "pluggy pluggy POST /auth 200": 3,
      "pluggy pluggy GET /items/{id} 200": 1,
      "pluggy pluggy GET /items/{id} 429": 1,
      "pluggy pluggy GET /items/{id} timeout": 1,
    });
    const timed = samplesOf(parsed, "matcher_vendor_call_duration_seconds_count", {
      vendor: "pluggy",
      operation: "pluggy GET /items/{id}",
    });
    assert.equal(timed[0]?.value, 3);
    for (const leak of [secret, itemId, pluggy.host]) assert.ok(!text.includes(leak), leak);
  } finally {
    await h.close();
    await pluggy.close();
  }
});
