// The product guide's curl examples, each as a test against the served API.
import assert from "node:assert/strict";
import { newTenant, pluggyBody, startHarness } from "../support/harness.ts";

const BASE = "/v1/discovery/aggregator-connections";

Deno.test("the guide's connection lifecycle works as documented", async (t) => {
  const h = await startHarness();
  const tenant = newTenant();
  try {
    let id = "";
    await t.step("create returns 201 with the secret-free descriptor", async () => {
      const res = await h.request(BASE, { method: "POST", tenant, json: pluggyBody() });
      assert.equal(res.status, 201);
      const body = await res.json();
      id = body.id;
      assert.deepEqual(Object.keys(body).sort(), [
        "accountRef",
        "baseUrl",
        "configName",
        "createdAt",
        "id",
        "updatedAt",
        "vendor",
      ]);
      assert.equal(body.vendor, "pluggy");
      assert.equal(body.configName, "pluggy-main");
      assert.equal(body.baseUrl, "https://api.pluggy.ai");
      assert.equal(body.accountRef, "a1b2c3d4-5678-90ab-cdef-1234567890ab");
      assert.equal(body.createdAt, body.updatedAt);
    });

    await t.step("a duplicate configName is 409", async () => {
      const res = await h.request(BASE, {
        method: "POST",
        tenant,
        json: pluggyBody({ vendor: "pluggy" }),
      });
      assert.equal(res.status, 409);
      assert.equal((await res.json()).code, "MTCH-2409");
    });

    await t.step("list (limit=20) returns it", async () => {
      const res = await h.request(`${BASE}?limit=20`, { tenant });
      assert.equal(res.status, 200);
      const page = await res.json();
      assert.deepEqual(page.items.map((c: { id: string }) => c.id), [id]);
      assert.equal(page.limit, 20);
      assert.equal(page.hasMore, false);
      assert.equal(page.nextCursor, null);
    });

    await t.step("get by id returns it", async () => {
      const res = await h.request(`${BASE}/${id}`, { tenant });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).id, id);
    });

    await t.step("update fixes a mistyped baseUrl and keeps the credential", async () => {
      const [before] = await h.sql`select sealed_credential from connections where id = ${id}`;
      const res = await h.request(`${BASE}/${id}`, {
        method: "PUT",
        tenant,
        json: {
          configName: "pluggy-main",
          baseUrl: "https://api.pluggy.ai/",
          accountRef: "item-2",
        },
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.accountRef, "item-2");
      assert.equal(body.baseUrl, "https://api.pluggy.ai");
      assert.ok(body.updatedAt >= body.createdAt);
      const [after] = await h.sql`select sealed_credential from connections where id = ${id}`;
      assert.deepEqual(after.sealed_credential, before.sealed_credential);
    });

    await t.step("update with both credential parts rotates the sealed credential", async () => {
      const [before] = await h.sql`select sealed_credential from connections where id = ${id}`;
      const res = await h.request(`${BASE}/${id}`, {
        method: "PUT",
        tenant,
        json: {
          configName: "pluggy-main",
          baseUrl: "https://api.pluggy.ai",
          accountRef: "item-2",
          clientId: "new-id",
          secret: "new-secret",
        },
      });
      assert.equal(res.status, 200);
      const [after] = await h.sql`select sealed_credential from connections where id = ${id}`;
      assert.notDeepEqual(after.sealed_credential, before.sealed_credential);
    });

    await t.step("delete soft-deletes (204), then the id is 404 and the name is free", async () => {
      const res = await h.request(`${BASE}/${id}`, { method: "DELETE", tenant });
      assert.equal(res.status, 204);
      assert.equal(await res.text(), "");
      const gone = await h.request(`${BASE}/${id}`, { tenant });
      assert.equal(gone.status, 404);
      assert.equal((await gone.json()).code, "MTCH-2404");
      const [row] = await h.sql`select deleted_at from connections where id = ${id}`;
      assert.ok(row.deleted_at instanceof Date, "the row is kept, marked deleted");
      const again = await h.request(BASE, { method: "POST", tenant, json: pluggyBody() });
      assert.equal(again.status, 201);
    });

    await t.step("connector types list the registry without aggregator vendors", async () => {
      const res = await h.request("/v1/discovery/connector-types", { tenant });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), {
        types: [
          { type: "postgres", category: "database" },
          { type: "rest-generic", category: "rest" },
        ],
      });
    });
  } finally {
    await h.close();
  }
});
