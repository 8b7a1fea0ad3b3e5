// Idempotency-Key over HTTP: a repeat replays the first answer, another request with the key is refused.
import assert from "node:assert/strict";
import { type Harness, newTenant, pluggyBody, startHarness } from "../support/harness.ts";
import { keyed, newKey, storedKeys } from "../support/idempotency.ts";
import { loadSpec, operations } from "../support/openapi_check.ts";
import { testClock, wirePluggy } from "../support/pulls.ts";
import { waitFor } from "../support/service.ts";

const API = "/v1/discovery";
const CONNECTIONS = `${API}/aggregator-connections`;

async function liveConnections(h: Harness, tenant: string): Promise<number> {
  const [{ n }] = await h.sql`select count(*)::int as n from connections
                              where tenant_id = ${tenant} and deleted_at is null`;
  return n;
}

Deno.test("a create sent again with its key runs once: the repeat gets the first answer, marked replayed", async () => {
  const h = await startHarness();
  try {
    const tenant = newTenant();
    const key = newKey();
    const first = await keyed(h, tenant, "POST", CONNECTIONS, { key, json: pluggyBody() });
    assert.equal(first.status, 201, first.text);
    assert.equal(first.replayed, null);
    const again = await keyed(h, tenant, "POST", CONNECTIONS, { key, json: pluggyBody() });
    assert.equal(again.status, 201);
    assert.equal(again.text, first.text);
    assert.equal(again.replayed, "true");
    assert.match(again.headers.get("content-type") ?? "", /^application\/json/);
    // The same object with its fields in another order and spaced out, and the key in quotes.
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(pluggyBody()).reverse()));
    const quoted = await keyed(h, tenant, "POST", CONNECTIONS, {
      key: `"${key}"`,
      body: ` ${reordered.replaceAll(",", ", ")} `,
    });
    assert.deepEqual([quoted.status, quoted.text, quoted.replayed], [201, first.text, "true"]);
    assert.equal(await liveConnections(h, tenant), 1);
    // Without a key the same create runs, and finds the name taken: the repeats did not run.
    const plain = await keyed(h, tenant, "POST", CONNECTIONS, { json: pluggyBody() });
    assert.equal(plain.status, 409);
    assert.equal(plain.body.code, "MTCH-2409");
    assert.equal(plain.replayed, null);
    assert.ok(h.logs.some((l) => l.includes('"idempotency":"replayed"')), "the log says so");
  } finally {
    await h.close();
  }
});

Deno.test("every writing operation of the tenant API answers a repeat with its first answer", async () => {
  const w = await wirePluggy();
  const { h, tenant, fake } = w;
  try {
    const itemCalls = () => fake.requests.filter((r) => r.path.startsWith("/items/")).length;
    const twice = async (method: string, path: string, json?: unknown) => {
      const key = newKey();
      const first = await keyed(h, tenant, method, path, { key, json });
      const again = await keyed(h, tenant, method, path, { key, json });
      assert.ok(first.status < 300, `${method} ${path}: ${first.status} ${first.text}`);
      assert.deepEqual(
        [again.status, again.text, again.replayed, first.replayed],
        [first.status, first.text, "true", null],
        `${method} ${path}`,
      );
      return first;
    };

    const calls = itemCalls();
    const tested = await twice("POST", `${CONNECTIONS}/test`, {
      vendor: "pluggy",
      configName: "pluggy-main",
    });
    assert.equal(tested.body.healthy, true);
    assert.equal(itemCalls(), calls + 1, "the vendor was asked once");

    const updated = await twice("PUT", `${CONNECTIONS}/${w.connectionId}`, {
      configName: "pluggy-main",
      baseUrl: fake.url,
      accountRef: w.accountRef,
    });
    assert.equal(updated.body.id, w.connectionId);

    const pull = await twice("POST", `${CONNECTIONS}/${w.connectionId}/pulls`);
    await waitFor("the pull to finish", async () => {
      const status = (await w.pull(pull.body.id)).status;
      return ["succeeded", "failed", "dead"].includes(status);
    });
    const retried = await twice("POST", `${API}/pulls/${pull.body.id}/retry`);
    assert.notEqual(retried.body.id, pull.body.id);

    const before = (await w.get(`${API}/webhooks/tokens?limit=200`)).items.length;
    const minted = await twice("POST", `${API}/webhooks/tokens`, {
      vendor: "pluggy",
      connection_config_name: "pluggy-main",
    });
    const tokens = (await w.get(`${API}/webhooks/tokens?limit=200`)).items;
    assert.equal(tokens.length, before + 1, "one token was minted");
    const revoked = await twice("DELETE", `${API}/webhooks/tokens/${minted.body.id}`);
    // A DELETE's body is no part of the request: a repeat with one is still the same request.
    const revokeKey = newKey();
    const other = tokens.find((t: { id: string }) => t.id !== minted.body.id);
    const path = `${API}/webhooks/tokens/${other.id}`;
    assert.equal((await keyed(h, tenant, "DELETE", path, { key: revokeKey })).status, 204);
    const withBody = await keyed(h, tenant, "DELETE", path, {
      key: revokeKey,
      body: JSON.stringify({ padding: "x".repeat(200_000) }),
    });
    assert.deepEqual([withBody.status, withBody.replayed], [revoked.status, "true"]);
    await twice("DELETE", `${CONNECTIONS}/${w.connectionId}`);
    // Without a key, the deletes run again and find nothing.
    const gone = await keyed(h, tenant, "DELETE", `${CONNECTIONS}/${w.connectionId}`);
    assert.equal(gone.status, 404);
  } finally {
    await w.close();
  }
});

Deno.test("the same key with another request is a 422 MTCH-1422, and nothing runs", async () => {
  const h = await startHarness();
  try {
    const tenant = newTenant();
    const key = newKey();
    const first = await keyed(h, tenant, "POST", CONNECTIONS, { key, json: pluggyBody() });
    assert.equal(first.status, 201);
    const id = first.body.id;
    const other = pluggyBody({ configName: "pluggy-other" });
    const refused = [
      await keyed(h, tenant, "POST", CONNECTIONS, { key, json: other }),
      await keyed(h, tenant, "POST", `${CONNECTIONS}/test`, {
        key,
        json: { vendor: "pluggy", configName: "pluggy-main" },
      }),
      await keyed(h, tenant, "DELETE", `${CONNECTIONS}/${id}`, { key }),
      await keyed(h, tenant, "PUT", `${CONNECTIONS}/${id}`, { key, json: pluggyBody() }),
    ];
    for (const answer of refused) {
      assert.equal(answer.status, 422, answer.text);
      assert.equal(answer.body.code, "MTCH-1422");
      assert.equal(answer.body.title, "Unprocessable Content");
      assert.match(answer.body.message, /Idempotency-Key was first used with another request/);
      assert.equal(answer.replayed, null);
    }
    assert.equal(await liveConnections(h, tenant), 1);
    assert.equal((await keyed(h, tenant, "GET", `${CONNECTIONS}/${id}`)).status, 200);
    // The first request itself still replays.
    const again = await keyed(h, tenant, "POST", CONNECTIONS, { key, json: pluggyBody() });
    assert.equal(again.replayed, "true");

    // A key belongs to its tenant: another tenant's request with it runs.
    const stranger = newTenant();
    const theirs = await keyed(h, stranger, "POST", CONNECTIONS, { key, json: other });
    assert.equal(theirs.status, 201);
    assert.equal(theirs.replayed, null);
    assert.equal(await liveConnections(h, stranger), 1);
  } finally {
    await h.close();
  }
});

Deno.test("an invalid key is a 400 naming the header, and nothing runs or is stored", async () => {
  const h = await startHarness();
  try {
    const tenant = newTenant();
    const bad = ["", "a".repeat(256), "has space", "caf\u00e9", "a,b", '"open', 'a"b', '""', "{x}"];
    for (const key of bad) {
      for (
        const [method, path, json] of [
          ["POST", CONNECTIONS, pluggyBody()],
          ["DELETE", `${CONNECTIONS}/${crypto.randomUUID()}`, undefined],
        ] as const
      ) {
        const answer = await keyed(h, tenant, method, path, { key, json });
        assert.equal(answer.status, 400, `${JSON.stringify(key)}: ${answer.text}`);
        assert.equal(answer.body.code, "MTCH-1001");
        assert.deepEqual(answer.body.details.fields.map((f: { field: string }) => f.field), [
          "Idempotency-Key",
        ]);
      }
    }
    // The header sent twice reaches the service as one value joined by a comma.
    const twice = await h.request(CONNECTIONS, {
      method: "POST",
      tenant,
      headers: [["Idempotency-Key", "k1"], ["Idempotency-Key", "k2"]],
      json: pluggyBody(),
    });
    assert.equal(twice.status, 400);
    await twice.body?.cancel();
    assert.equal(await liveConnections(h, tenant), 0);
    assert.deepEqual(await storedKeys(h.sql, tenant), []);

    // The longest key, bare and quoted, is fine.
    const longest = "k".repeat(255);
    const made = await keyed(h, tenant, "POST", CONNECTIONS, { key: longest, json: pluggyBody() });
    assert.equal(made.status, 201);
    const quoted = await keyed(h, tenant, "POST", CONNECTIONS, {
      key: `"${longest}"`,
      json: pluggyBody(),
    });
    assert.equal(quoted.replayed, "true");
  } finally {
    await h.close();
  }
});

Deno.test("an answer below 500 is kept, errors included; a 429 or a 5xx frees the key", async (t) => {
  await t.step("a 404 is replayed even after the connection it missed exists", async () => {
    const h = await startHarness();
    try {
      const tenant = newTenant();
      const key = newKey();
      const mint = { vendor: "pluggy", connection_config_name: "pluggy-main" };
      const missed = await keyed(h, tenant, "POST", `${API}/webhooks/tokens`, { key, json: mint });
      assert.equal(missed.status, 404);
      assert.equal(
        (await keyed(h, tenant, "POST", CONNECTIONS, { json: pluggyBody() })).status,
        201,
      );
      const again = await keyed(h, tenant, "POST", `${API}/webhooks/tokens`, { key, json: mint });
      assert.deepEqual([again.status, again.text, again.replayed], [404, missed.text, "true"]);
      const fresh = await keyed(h, tenant, "POST", `${API}/webhooks/tokens`, { json: mint });
      assert.equal(fresh.status, 201);
    } finally {
      await h.close();
    }
  });

  await t.step("a 429 is not kept: the repeat runs once the limit allows", async () => {
    const clock = testClock();
    const w = await wirePluggy({}, { connectionTestsPerMinute: 1, now: clock.now });
    try {
      const json = { vendor: "pluggy", configName: "pluggy-main" };
      const path = `${CONNECTIONS}/test`;
      assert.equal((await keyed(w.h, w.tenant, "POST", path, { key: newKey(), json })).status, 200);
      const key = newKey();
      const limited = await keyed(w.h, w.tenant, "POST", path, { key, json });
      assert.equal(limited.status, 429);
      const kept = (await storedKeys(w.h.sql, w.tenant)).map((k) => k.key);
      assert.equal(kept.length, 1, "the first test's key");
      assert.ok(!kept.includes(key), "the 429 left no key behind");
      const still = await keyed(w.h, w.tenant, "POST", path, { key, json });
      assert.deepEqual([still.status, still.replayed], [429, null]);
      clock.advance(61_000);
      const ran = await keyed(w.h, w.tenant, "POST", path, { key, json });
      assert.deepEqual([ran.status, ran.replayed], [200, null]);
      const replayed = await keyed(w.h, w.tenant, "POST", path, { key, json });
      assert.deepEqual([replayed.status, replayed.text, replayed.replayed], [
        200,
        ran.text,
        "true",
      ]);
    } finally {
      await w.close();
    }
  });

  await t.step("a 500 is not kept: the repeat runs again", async () => {
    let checks = 0;
    const h = await startHarness({
      aggregators: {
        client: () => ({
          vendor: "pluggy",
          check: () => {
            checks++;
            return Promise.reject(new TypeError("an unexpected failure"));
          },
          listAccounts: () => Promise.reject(new Error("unused")),
          transactions: () => {
            throw new Error("unused");
          },
          transactionsByIds: () => {
            throw new Error("unused");
          },
        }),
      },
    });
    try {
      const tenant = newTenant();
      assert.equal(
        (await keyed(h, tenant, "POST", CONNECTIONS, { json: pluggyBody() })).status,
        201,
      );
      const key = newKey();
      const json = { vendor: "pluggy", configName: "pluggy-main" };
      for (let i = 1; i <= 2; i++) {
        const failed = await keyed(h, tenant, "POST", `${CONNECTIONS}/test`, { key, json });
        assert.deepEqual([failed.status, failed.replayed], [500, null]);
        assert.equal(checks, i, "the operation ran each time");
      }
      assert.deepEqual(await storedKeys(h.sql, tenant), [], "the key was freed");
    } finally {
      await h.close();
    }
  });
});

/** A live test that the fake vendor answers after `delayMs`, started without waiting for it. */
async function slowTest(w: Awaited<ReturnType<typeof wirePluggy>>, key: string, delayMs: number) {
  w.fake.faults.add({ path: /^\/items\//, fault: { delayMs } });
  const json = { vendor: "pluggy", configName: "pluggy-main" };
  const first = keyed(w.h, w.tenant, "POST", `${CONNECTIONS}/test`, { key, json });
  await waitFor("the first request to hold its key", async () => {
    const rows = await storedKeys(w.h.sql, w.tenant);
    return rows.some((r) => r.key === key && r.state === "running");
  }, { timeoutMs: 10_000, intervalMs: 5 });
  return {
    first,
    repeat: () => keyed(w.h, w.tenant, "POST", `${CONNECTIONS}/test`, { key, json }),
  };
}

Deno.test("a repeat that arrives while the first request runs waits for it and gets its answer", async () => {
  const w = await wirePluggy();
  try {
    const itemCalls = () => w.fake.requests.filter((r) => r.path.startsWith("/items/")).length;
    const calls = itemCalls();
    const key = newKey();
    const { first, repeat } = await slowTest(w, key, 600);
    const [a, b] = await Promise.all([first, repeat()]);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual([b.status, b.text, b.replayed, a.replayed], [200, a.text, "true", null]);
    assert.equal(itemCalls(), calls + 1, "the vendor was asked once");
  } finally {
    await w.close();
  }
});

Deno.test("a repeat that cannot wait for the running first request is a 409 MTCH-1409 with Retry-After", async () => {
  const w = await wirePluggy({}, { idempotencyWaitMs: 0 });
  try {
    const key = newKey();
    const { first, repeat } = await slowTest(w, key, 1_500);
    const busy = await repeat();
    assert.equal(busy.status, 409, busy.text);
    assert.equal(busy.body.code, "MTCH-1409");
    assert.equal(busy.headers.get("retry-after"), "1");
    assert.equal(busy.replayed, null);
    const done = await first;
    assert.equal(done.status, 200);
    const later = await repeat();
    assert.deepEqual([later.status, later.text, later.replayed], [200, done.text, "true"]);
  } finally {
    await w.close();
  }
});

Deno.test("openapi.yaml declares the key on exactly the writing operations of the tenant API", async () => {
  const spec = await loadSpec();
  for (const op of operations(spec)) {
    const declared = op.parameters.some((p: { in: string; name: string }) =>
      p.in === "header" && p.name === "Idempotency-Key"
    );
    const writes = op.security === "bearer" && ["POST", "PUT", "DELETE"].includes(op.method);
    assert.equal(declared, writes, op.operationId);
    if (!writes) continue;
    for (const status of [400, 409, 422]) {
      assert.ok(op.responses.has(status), `${op.operationId} declares ${status}`);
    }
    const success = [...op.responses].find(([status]) => status < 300)![1];
    assert.ok(success.headers?.["Idempotency-Replayed"], `${op.operationId} declares the header`);
  }
});
