// The pull and transaction routes: tenant isolation, the one 404, pagination and odd vendor data.
import assert from "node:assert/strict";
import { parse } from "yaml";
import type { Json } from "../support/vendor_calls.ts";
import { newTenant } from "../support/harness.ts";
import { deliver, wirePluggy } from "../support/pulls.ts";

Deno.test("another tenant's ids, malformed ids and deleted connections answer 404", async (t) => {
  const w = await wirePluggy();
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    const other = newTenant();
    const as = (tenant: string, path: string, method = "GET") =>
      w.h.request(path, { method, tenant }).then(async (res) => ({
        status: res.status,
        body: await res.json() as Json,
      }));
    const conn = `/v1/discovery/aggregator-connections/${w.connectionId}`;

    await t.step("another tenant sees none of the connection's pulls or transactions", async () => {
      for (
        const [path, method] of [
          [`${conn}/pulls`, "GET"],
          [`${conn}/pulls`, "POST"],
          [`${conn}/transactions`, "GET"],
        ]
      ) {
        const res = await as(other, path, method);
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.equal(res.body.code, "MTCH-2404");
      }
      const pull = await as(other, `/v1/discovery/pulls/${body.pullId}`);
      assert.equal(pull.status, 404);
      assert.equal(pull.body.code, "MTCH-4404");
      const [{ count }] = await w.h.sql`select count(*)::int from pull_jobs`;
      assert.equal(count, 1, "the foreign POST queued nothing");
    });

    await t.step("malformed and unknown ids are the same 404", async () => {
      for (const id of ["nope", crypto.randomUUID(), "0".repeat(5000)]) {
        assert.equal((await as(w.tenant, `/v1/discovery/pulls/${id}`)).body.code, "MTCH-4404");
        const res = await as(w.tenant, `/v1/discovery/aggregator-connections/${id}/transactions`);
        assert.equal(res.status, 404);
      }
    });

    await t.step(
      "a deleted connection's pulls and transactions are gone from its routes",
      async () => {
        const del = await w.h.request(conn, { method: "DELETE", tenant: w.tenant });
        assert.equal(del.status, 204);
        assert.equal((await as(w.tenant, `${conn}/transactions`)).status, 404);
        assert.equal((await as(w.tenant, `${conn}/pulls`, "POST")).status, 404);
        // The pull itself stays readable: it is history, not a live resource.
        assert.equal((await as(w.tenant, `/v1/discovery/pulls/${body.pullId}`)).status, 200);
      },
    );
  } finally {
    await w.close();
  }
});

Deno.test("deleting a connection fails its queued pull and stops a running one", async () => {
  const w = await wirePluggy({ pageSize: 5 }, { pulls: { wake: false } });
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    const del = await w.h.request(`/v1/discovery/aggregator-connections/${w.connectionId}`, {
      method: "DELETE",
      tenant: w.tenant,
    });
    assert.equal(del.status, 204);
    const pull = await w.pull(body.pullId);
    assert.equal(pull.status, "failed");
    assert.equal(pull.lastError.reason, "connection_deleted");
    await w.h.pool.drain();
    assert.equal(w.fake.requests.filter((r) => r.path.includes("transactions")).length, 0);
  } finally {
    await w.close();
  }

  const v = await wirePluggy({ pageSize: 5 });
  try {
    // Both accounts are walked at once: the first page of each is in flight when the delete lands.
    v.fake.faults.add({ path: "/v2/transactions", times: 2, fault: { delayMs: 500 } });
    const { body } = await deliver(v, v.fake.webhooks.itemUpdated({ itemId: v.accountRef }));
    while (v.fake.requests.filter((r) => r.path === "/v2/transactions").length < 2) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const del = await v.h.request(`/v1/discovery/aggregator-connections/${v.connectionId}`, {
      method: "DELETE",
      tenant: v.tenant,
    });
    assert.equal(del.status, 204);
    await v.h.pool.drain();
    const pull = await v.pull(body.pullId);
    assert.equal(pull.status, "failed");
    assert.equal(pull.lastError.reason, "connection_deleted");
    assert.equal(pull.pagesFetched, 0, "the pages in flight were not stored");
    const [{ count }] = await v.h.sql`select count(*)::int from transactions`;
    assert.equal(count, 0);
    assert.ok(v.h.logs.some((l) => l.includes("pull lease lost")));
  } finally {
    await v.close();
  }
});

Deno.test("transactions page without gaps or repeats, filter by account and hide deletions", async () => {
  const w = await wirePluggy();
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    assert.equal((await w.pull(body.pullId)).status, "succeeded");
    const base = `/v1/discovery/aggregator-connections/${w.connectionId}/transactions`;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Json = await w.get(`${base}?limit=6${cursor ? `&cursor=${cursor}` : ""}`);
      assert.ok(page.items.length <= 6);
      assert.equal(page.hasMore, page.nextCursor !== null);
      seen.push(...page.items.map((t: Json) => t.id));
      cursor = page.nextCursor;
    } while (cursor);
    assert.equal(seen.length, 35);
    assert.equal(new Set(seen).size, 35);

    const [bank, card] = w.fake.items[0].accounts;
    const filtered: Json = await w.get(`${base}?limit=200&accountId=${card.id}`);
    assert.equal(filtered.items.length, 10);
    assert.ok(filtered.items.every((t: Json) => t.accountId === card.id));
    const one = filtered.items[0];
    assert.deepEqual(Object.keys(one).sort(), [
      "accountId",
      "amount",
      "connectionId",
      "currency",
      "date",
      "description",
      "direction",
      "externalId",
      "id",
      "status",
      "updatedAt",
      "vendor",
      "vendorCreatedAt",
    ]);
    assert.match(one.date, /^\d{4}-\d{2}-\d{2}$/);
    assert.match(one.amount, /^-?\d+(\.\d+)?$/);

    for (const bad of ["limit=0", "limit=201", "cursor=%21%21", "accountId="]) {
      const res = await w.h.request(`${base}?${bad}`, { tenant: w.tenant });
      assert.equal(res.status, 400, bad);
      await res.body?.cancel();
    }
    assert.equal((await w.get(`${base}?accountId=${bank.id}&limit=200`)).items.length, 25);
  } finally {
    await w.close();
  }
});

// Postgres refuses U+0000 and lone UTF-16 surrogates in text and jsonb (JSON.stringify writes
// the latter as escapes such as "\ud800"): NUL is dropped, a lone surrogate becomes U+FFFD.
const UNSTORABLE = [
  { name: "NUL", odd: "\u0000", stored: "" },
  { name: "lone surrogate", odd: "\ud800", stored: "\ufffd" },
];

for (const { name, odd, stored } of UNSTORABLE) {
  Deno.test(`a ${name} in a webhook or in vendor data is cleaned, not a 500 or a stuck pull`, async () => {
    const w = await wirePluggy({}, { pulls: { wake: false } });
    try {
      const payload = {
        ...w.fake.webhooks.itemUpdated({ itemId: w.accountRef }),
        note: `a${odd}b`,
        [`k${odd}`]: [odd],
        pair: "\ud83d\ude00", // a well-formed pair stays as it is
      };
      const { status, body } = await deliver(w, payload);
      assert.equal(status, 202, JSON.stringify(body));
      assert.equal(body.status, "accepted");
      const [event] = await w.h.sql`select payload from webhook_events`;
      assert.equal(event.payload.note, `a${stored}b`);
      assert.deepEqual(event.payload[`k${stored}`], [stored]);
      assert.equal(event.payload.pair, "😀");
      await w.h.pool.drain();

      // The same in a vendor's transaction: it was an internal error on every attempt.
      const account = w.fake.items[0].accounts[0].id;
      const tx = { ...w.fake.transactions(account)[0], description: `caf${odd}e` };
      w.fake.faults.add({
        path: "/v2/transactions",
        fault: { status: 200, body: { results: [tx], next: null } },
      });
      const created = await deliver(
        w,
        w.fake.webhooks.transactionsCreated({
          itemId: w.accountRef,
          accountId: account,
          transactionsCreatedAtFrom: new Date(0),
        }),
      );
      await w.h.pool.drain();
      assert.equal((await w.pull(created.body.pullId)).status, "succeeded");
      const [row] = await w.h.sql`
        select description, raw->>'description' as raw from transactions where external_id = ${tx.id}`;
      assert.deepEqual({ ...row }, { description: `caf${stored}e`, raw: `caf${stored}e` });
    } finally {
      await w.close();
    }
  });
}

Deno.test("a NUL character in a field of a request is a 400, not a 500", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const res = await w.h.request("/v1/discovery/aggregator-connections", {
      method: "POST",
      tenant: w.tenant,
      json: {
        vendor: "pluggy",
        configName: "nul-ref",
        baseUrl: "https://api.pluggy.ai",
        accountRef: "item\u0000",
        clientId: "x",
        secret: "y",
      },
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, "MTCH-1001");
  } finally {
    await w.close();
  }
});

Deno.test("requesting or retrying a pull with a body that is not JSON, or too large, is a declared 4xx", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const queued = await w.h.request(
      `/v1/discovery/aggregator-connections/${w.connectionId}/pulls`,
      {
        method: "POST",
        tenant: w.tenant,
      },
    );
    assert.equal(queued.status, 202);
    const pullId = (await queued.json()).id;
    await w.h.pool.drain();
    for (
      const path of [`/aggregator-connections/${w.connectionId}/pulls`, `/pulls/${pullId}/retry`]
    ) {
      const url = `/v1/discovery${path}`;
      const text = await w.h.request(url, {
        method: "POST",
        tenant: w.tenant,
        headers: { "Content-Type": "text/plain" },
        body: "now please",
      });
      assert.equal(text.status, 400);
      assert.equal((await text.json()).code, "MTCH-1003");
      const large = await w.h.request(url, {
        method: "POST",
        tenant: w.tenant,
        json: { padding: "x".repeat(70_000) },
      });
      assert.equal(large.status, 413);
      assert.equal((await large.json()).code, "MTCH-1004");
    }
    // openapi.yaml declares both answers for both operations.
    const spec = parse(await Deno.readTextFile(new URL("../../openapi.yaml", import.meta.url)));
    for (
      const path of [
        "/v1/discovery/aggregator-connections/{id}/pulls",
        "/v1/discovery/pulls/{pullId}/retry",
      ]
    ) {
      assert.ok(spec.paths[path].post.responses["400"], `${path} declares 400`);
      assert.ok(spec.paths[path].post.responses["413"], `${path} declares 413`);
    }
  } finally {
    await w.close();
  }
});

Deno.test("a transaction's raw object is stored as the vendor sent it: unknown fields and every digit", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const account = w.fake.items[0].accounts[0].id;
    const [tx, bad] = w.fake.transactions(account);
    // A number no JavaScript double holds, and a row skipped for its date beside the stored one.
    const row = JSON.stringify({ ...tx, extra: { nested: [1, "two"] } }).replace(
      /}$/,
      ',"reference":123456789012345678901234567890.50}',
    );
    const skipped = JSON.stringify({ ...bad, date: "not a date" });
    w.fake.faults.add({
      path: "/v2/transactions",
      fault: { status: 200, body: `{"results":[${skipped},${row}],"next":null}` },
    });
    const created = await deliver(
      w,
      w.fake.webhooks.transactionsCreated({
        itemId: w.accountRef,
        accountId: account,
        transactionsCreatedAtFrom: new Date(0),
      }),
    );
    await w.h.pool.drain();
    assert.equal((await w.pull(created.body.pullId)).status, "succeeded");
    const rows = await w.h.sql`
      select external_id, raw->'extra' as extra, raw->>'reference' as reference,
             raw->>'id' as raw_id
      from transactions where connection_id = ${w.connectionId}`;
    assert.deepEqual(rows.map((r) => ({ ...r })), [{
      external_id: tx.id,
      extra: { nested: [1, "two"] },
      reference: "123456789012345678901234567890.50",
      raw_id: tx.id,
    }]);
  } finally {
    await w.close();
  }
});
