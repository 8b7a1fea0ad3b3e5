// JSON nested past MATCHER_JSON_MAX_DEPTH is a 400 before anything parses or stores it.
import assert from "node:assert/strict";
import { wirePluggy } from "../support/pulls.ts";

const arrays = (n: number) => "[".repeat(n) + "]".repeat(n);
const objects = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);

async function counts(sql: import("../../src/db/pool.ts").Sql) {
  const [row] = await sql`
    select (select count(*)::int from webhook_events) as events,
           (select count(*)::int from pull_jobs) as jobs`;
  return row;
}

Deno.test("a webhook nested 20,000 levels deep is a 400, and one at the limit is stored", async (t) => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const event = () => w.fake.webhooks.itemUpdated({ itemId: w.accountRef });
    /** The event with `nested` as one more field, sent as text. */
    const post = (nested: string) => {
      const text = JSON.stringify(event());
      return fetch(w.webhookUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `${text.slice(0, -1)},"extra":${nested}}`,
      });
    };

    await t.step("20,000 levels (40 KB) of arrays, then of objects: 400 MTCH-1003", async () => {
      for (const nested of [arrays(20_000), objects(20_000)]) {
        const res = await post(nested);
        const body = await res.json();
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(body.code, "MTCH-1003");
        assert.match(body.message, /deeper than 64 levels/);
      }
      assert.deepEqual(await counts(w.h.sql), { events: 0, jobs: 0 }, "nothing written");
      const failures = w.h.logs.filter((l) => l.includes('"level":"error"'));
      assert.deepEqual(failures, [], "no request failed inside the service");
    });

    await t.step("brackets inside strings do not count", async () => {
      const res = await post(JSON.stringify("[".repeat(20_000)));
      assert.equal(res.status, 202);
    });

    await t.step("64 levels in all (the body is the first) are accepted and stored", async () => {
      const res = await post(arrays(63));
      assert.equal(res.status, 202);
      const [row] = await w.h.sql`
        select payload->'extra' as extra from webhook_events order by received_at desc limit 1`;
      assert.equal(JSON.stringify(row.extra), arrays(63));
      assert.equal((await post(arrays(64))).status, 400, "one more level is refused");
    });
  } finally {
    await w.close();
  }
});

Deno.test("the API's JSON bodies are held to the same depth", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const deep = arrays(20_000);
    const bodies: [string, string, string][] = [
      ["POST", "/v1/discovery/aggregator-connections", `{"vendor":"pluggy","x":${deep}}`],
      ["PUT", `/v1/discovery/aggregator-connections/${w.connectionId}`, `{"x":${deep}}`],
      ["POST", "/v1/discovery/aggregator-connections/test", `{"configName":${deep}}`],
      ["POST", "/v1/discovery/webhooks/tokens", `{"vendor":${deep}}`],
      ["POST", `/v1/discovery/aggregator-connections/${w.connectionId}/pulls`, deep],
    ];
    for (const [method, path, body] of bodies) {
      const res = await w.h.request(path, {
        method,
        tenant: w.tenant,
        headers: { "Content-Type": "application/json" },
        body,
      });
      const answer = await res.json();
      assert.equal(res.status, 400, `${method} ${path}`);
      assert.equal(answer.code, "MTCH-1003", `${method} ${path}`);
      assert.match(answer.message, /deeper than 64 levels/);
    }
    const [{ n }] = await w.h.sql`select count(*)::int as n from pull_jobs`;
    assert.equal(n, 0, "the refused pull request queued nothing");
  } finally {
    await w.close();
  }
});
