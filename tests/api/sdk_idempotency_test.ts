// The TypeScript client and Idempotency-Key: a call's own key, typed by the spec, and `retries`,
// which resends a write whose answer was lost under one key, so that the service runs it once.
import assert from "node:assert/strict";
import { type components, createMatcherClient } from "../../clients/typescript/client.ts";
import { newTenant, pluggyBody, startHarness } from "../support/harness.ts";
import { wirePluggy } from "../support/pulls.ts";
import { waitFor } from "../support/service.ts";

const CONNECTIONS = "/v1/discovery/aggregator-connections";
const TOKENS = "/v1/discovery/webhooks/tokens";

/** The guide's create body, typed as the client takes it. */
const createBody = () => pluggyBody() as components["schemas"]["CreateAggregatorConnectionRequest"];

/** Sends through the real fetch, and loses the answers to the first `lose` writes. */
function losingFetch(lose: number) {
  const keys: Array<string | null> = [];
  return {
    keys,
    async fetch(request: Request): Promise<Response> {
      keys.push(request.headers.get("Idempotency-Key"));
      const response = await fetch(request);
      if (request.method !== "GET" && lose-- > 0) {
        await response.body?.cancel();
        throw new TypeError("connection reset before the answer arrived");
      }
      return response;
    },
  };
}

Deno.test("with retries, a create whose answer was lost is sent again under its key and runs once", async () => {
  const h = await startHarness();
  try {
    const tenant = newTenant();
    const transport = losingFetch(2);
    const client = createMatcherClient({
      baseUrl: h.baseUrl,
      token: () => h.token(tenant),
      fetch: transport.fetch,
      retries: 3,
    });
    const { data, response } = await client.POST(CONNECTIONS, { body: createBody() });
    assert.equal(response.status, 201);
    assert.equal(data?.configName, "pluggy-main");
    assert.equal(response.headers.get("Idempotency-Replayed"), "true");
    assert.equal(transport.keys.length, 3, "sent three times");
    assert.equal(new Set(transport.keys).size, 1, "under one key");
    assert.match(transport.keys[0]!, /^[0-9a-f-]{36}$/);
    const [{ n }] = await h
      .sql`select count(*)::int as n from connections where tenant_id = ${tenant}`;
    assert.equal(n, 1, "the service ran it once");

    // Each call gets its own key: a second create is a new request, refused on its own merits.
    const second = await client.POST(CONNECTIONS, { body: createBody() });
    assert.equal(second.response.status, 409);
    assert.equal(second.error?.code, "MTCH-2409");
    assert.notEqual(transport.keys.at(-1), transport.keys[0]);
    // Reads are neither keyed nor resent.
    const listed = await client.GET(CONNECTIONS, {});
    assert.equal(listed.response.status, 200);
    assert.equal(transport.keys.at(-1), null);
  } finally {
    await h.close();
  }
});

Deno.test("without retries nothing is resent and no key is added", async () => {
  const h = await startHarness();
  try {
    const tenant = newTenant();
    const transport = losingFetch(1);
    const client = createMatcherClient({
      baseUrl: h.baseUrl,
      token: () => h.token(tenant),
      fetch: transport.fetch,
    });
    await assert.rejects(client.POST(CONNECTIONS, { body: createBody() }), /connection reset/);
    assert.deepEqual(transport.keys, [null]);
  } finally {
    await h.close();
  }
});

Deno.test("a call's own key is typed by the spec: a repeat replays the mint, another body is a 422", async () => {
  const h = await startHarness();
  try {
    const tenant = newTenant();
    const client = createMatcherClient({ baseUrl: h.baseUrl, token: () => h.token(tenant) });
    assert.equal((await client.POST(CONNECTIONS, { body: createBody() })).response.status, 201);
    const key = crypto.randomUUID();
    const mint = () =>
      client.POST(TOKENS, {
        params: { header: { "Idempotency-Key": key } },
        body: { vendor: "pluggy", connection_config_name: "pluggy-main" },
      });
    const first = await mint();
    const again = await mint();
    assert.equal(first.response.status, 201);
    assert.equal(first.response.headers.get("Idempotency-Replayed"), null);
    assert.equal(again.response.headers.get("Idempotency-Replayed"), "true");
    assert.equal(again.data?.token, first.data?.token, "the lost token is shown again");
    const other = await client.POST(TOKENS, {
      params: { header: { "Idempotency-Key": key } },
      body: { vendor: "belvo", connection_config_name: "pluggy-main" },
    });
    assert.equal(other.response.status, 422);
    assert.equal(other.error?.code, "MTCH-1422");
  } finally {
    await h.close();
  }
});

Deno.test("with retries, a repeat that finds its first request running waits out the 409 and gets its answer", async () => {
  const w = await wirePluggy({}, { idempotencyWaitMs: 0 });
  try {
    w.fake.faults.add({ path: /^\/items\//, fault: { delayMs: 800 } });
    const key = crypto.randomUUID();
    const sent: number[] = [];
    const client = createMatcherClient({
      baseUrl: w.h.baseUrl,
      token: () => w.h.token(w.tenant),
      retries: 2,
      fetch: async (request) => {
        const response = await fetch(request);
        sent.push(response.status);
        return response;
      },
    });
    const test = () =>
      client.POST(`${CONNECTIONS}/test`, {
        params: { header: { "Idempotency-Key": key } },
        body: { vendor: "pluggy", configName: "pluggy-main" },
      });
    const first = test();
    await waitFor("the first test to hold its key", async () => {
      const [row] = await w.h.sql`select state from idempotency_keys where key = ${key}`;
      return row?.state === "running";
    }, { timeoutMs: 10_000, intervalMs: 5 });
    const repeat = await test();
    const done = await first;
    assert.equal(done.response.status, 200);
    assert.equal(repeat.response.status, 200);
    assert.deepEqual(repeat.data, done.data);
    assert.equal(repeat.response.headers.get("Idempotency-Replayed"), "true");
    assert.ok(sent.includes(409), `the repeat met the 409 first (${sent})`);
  } finally {
    await w.close();
  }
});
