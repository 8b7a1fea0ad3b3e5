// Requesting and retrying a pull take no body: none, an empty one or `{}`; anything else is a 400.
import assert from "node:assert/strict";
import { wirePluggy } from "../support/pulls.ts";

Deno.test("the body-less pull operations refuse a body that is not empty or {}", async (t) => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const post = (path: string, body?: string, type: string | null = "application/json") =>
      w.h.request(`/v1/discovery${path}`, {
        method: "POST",
        tenant: w.tenant,
        headers: type === null ? {} : { "Content-Type": type },
        body,
      });
    const first = await post(`/aggregator-connections/${w.connectionId}/pulls`, undefined, null);
    assert.equal(first.status, 202);
    const pullId = (await first.json()).id;
    await w.h.pool.drain(); // finished, so that it can be retried
    const paths = [`/aggregator-connections/${w.connectionId}/pulls`, `/pulls/${pullId}/retry`];
    const [{ n: before }] = await w.h.sql`select count(*)::int as n from pull_jobs`;

    await t.step("a body that is not JSON, with a JSON content type: 400 MTCH-1003", async () => {
      for (const path of paths) {
        for (const body of ["now please", "{", "{}{}"]) {
          const res = await post(path, body);
          assert.equal(res.status, 400, `${path} ${body}`);
          assert.equal((await res.json()).code, "MTCH-1003");
        }
      }
    });

    await t.step("JSON that asks for something: 400 MTCH-1001 naming what", async () => {
      for (const path of paths) {
        const named = await post(path, JSON.stringify({ from: "2024-01-01", accounts: ["a"] }));
        assert.equal(named.status, 400);
        const body = await named.json();
        assert.equal(body.code, "MTCH-1001");
        assert.deepEqual(body.details.fields.map((f: { field: string }) => f.field), [
          "from",
          "accounts",
        ]);
        for (const other of ["[]", "null", "42", '"now"']) {
          const res = await post(path, other);
          assert.equal(res.status, 400, `${path} ${other}`);
          assert.equal((await res.json()).code, "MTCH-1001");
        }
      }
      const [{ n }] = await w.h.sql`select count(*)::int as n from pull_jobs`;
      assert.equal(n, before, "no refused request queued a pull");
    });

    await t.step("no body, an empty one or {} (with or without the type): 202", async () => {
      const nothing: [string | undefined, string | null][] = [
        [undefined, null],
        [undefined, "application/json"],
        ["", "application/json"],
        ["{}", "application/json"],
        [" { }\n", "application/json; charset=utf-8"],
        ["", null],
      ];
      for (const path of paths) {
        for (const [body, type] of nothing) {
          const res = await post(path, body, type);
          assert.equal(res.status, 202, `${path} ${JSON.stringify(body)} ${type}`);
          await res.body?.cancel();
        }
      }
    });
  } finally {
    await w.close();
  }
});
