// Every input rule of the aggregator-connections surface, one case each: create, update and list.
import assert from "node:assert/strict";
import type { components } from "../../generated/types.ts";
import { type Harness, newTenant, pluggyBody, startHarness } from "../support/harness.ts";

const BASE = "/v1/discovery/aggregator-connections";

type ErrorBody = components["schemas"]["Error"];

/** Asserts the error envelope of a response and answers its body. */
async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text}`);
  assert.match(res.headers.get("Content-Type") ?? "", /^application\/json/);
  const body = JSON.parse(text) as ErrorBody;
  for (const key of Object.keys(body)) {
    assert.ok(["code", "title", "message", "details"].includes(key), `unexpected key ${key}`);
  }
  assert.equal(body.code, code, text);
  assert.equal(typeof body.message, "string");
  assert.ok(body.message.length > 0, "the message is not empty");
  return body;
}

/** A 400 in the envelope whose `details.fields` names `field` and nothing else. */
async function expectBadRequest(res: Response, field: string, code = "MTCH-1001") {
  const body = await expectError(res, 400, code);
  assert.equal(body.title, "Bad Request");
  const fields = body.details?.fields ?? [];
  assert.ok(fields.length > 0, "details.fields is not empty");
  for (const problem of fields) {
    assert.equal(typeof problem.message, "string");
    assert.ok(problem.message.length > 0);
  }
  assert.deepEqual([...new Set(fields.map((f) => f.field))], [field]);
  return body;
}

async function countRows(h: Harness, tenant: string): Promise<number> {
  const [{ n }] = await h
    .sql`select count(*)::int as n from connections where tenant_id = ${tenant}`;
  return n;
}

async function rowOf(h: Harness, id: string) {
  const [row] = await h.sql`select * from connections where id = ${id}`;
  assert.ok(row, `row ${id} exists`);
  return row;
}

function base64url(text: string): string {
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

Deno.test("create rejects each invalid field with a 400 naming it and writes nothing", async (t) => {
  const h = await startHarness();
  // Every rejected create runs as this tenant, which must never get a row.
  const tenant = newTenant();
  try {
    const rejects = async (
      name: string,
      overrides: Record<string, unknown>,
      field: string,
      code = "MTCH-1001",
    ) => {
      await t.step(name, async () => {
        const res = await h.request(BASE, { method: "POST", tenant, json: pluggyBody(overrides) });
        await expectBadRequest(res, field, code);
        assert.equal(await countRows(h, tenant), 0, "a rejected create writes no row");
      });
    };

    await rejects("a vendor other than pluggy or belvo is rejected", { vendor: "plaid" }, "vendor");
    await rejects("a configName of 2 characters is rejected", { configName: "ab" }, "configName");
    await rejects(
      "a configName of 101 characters is rejected",
      { configName: "a".repeat(101) },
      "configName",
    );
    await rejects(
      "a configName with a space inside is rejected",
      { configName: "a b" },
      "configName",
    );
    await rejects("a configName with punctuation is rejected", { configName: "ab!" }, "configName");
    await rejects(
      "a configName that is 2 characters after trimming is rejected",
      { configName: "  ab  " },
      "configName",
    );

    await rejects(
      "a plain http baseUrl is rejected",
      { baseUrl: "http://api.pluggy.ai" },
      "baseUrl",
      "MTCH-1012",
    );
    await rejects(
      "a baseUrl with user info is rejected",
      { baseUrl: "https://u:p@api.pluggy.ai" },
      "baseUrl",
      "MTCH-1012",
    );
    await rejects(
      "a baseUrl with a query is rejected",
      { baseUrl: "https://api.pluggy.ai/?x=1" },
      "baseUrl",
      "MTCH-1012",
    );
    await rejects(
      "a baseUrl with a fragment is rejected",
      { baseUrl: "https://api.pluggy.ai/#top" },
      "baseUrl",
      "MTCH-1012",
    );
    await rejects("a baseUrl that is not a URL is rejected", { baseUrl: "not a url" }, "baseUrl");
    await rejects(
      "a baseUrl on another vendor's host is rejected",
      { baseUrl: "https://api.belvo.com" },
      "baseUrl",
      "MTCH-1012",
    );
    await rejects(
      "a pluggy host is rejected for a belvo connection",
      { vendor: "belvo", baseUrl: "https://api.pluggy.ai" },
      "baseUrl",
      "MTCH-1012",
    );
    await rejects(
      "a baseUrl on an IP literal is rejected",
      { baseUrl: "https://10.0.0.1" },
      "baseUrl",
      "MTCH-1012",
    );
    await rejects(
      "a baseUrl on the vendor's host but another port is rejected",
      { baseUrl: "https://api.pluggy.ai:8443" },
      "baseUrl",
      "MTCH-1012",
    );
    await rejects(
      "a baseUrl on a host that merely ends like the vendor's is rejected",
      { baseUrl: "https://evil-api.pluggy.ai.example.com" },
      "baseUrl",
      "MTCH-1012",
    );

    await rejects("an empty accountRef is rejected", { accountRef: "" }, "accountRef");
    await rejects("a blank accountRef is rejected", { accountRef: "   " }, "accountRef");
    await rejects(
      "an accountRef of 201 characters is rejected",
      { accountRef: "r".repeat(201) },
      "accountRef",
    );

    await rejects("an empty clientId is rejected", { clientId: "" }, "clientId");
    await rejects(
      "a clientId of 1025 characters is rejected",
      { clientId: "c".repeat(1025) },
      "clientId",
    );
    await rejects("a missing clientId is rejected", { clientId: undefined }, "clientId");
    await rejects("an empty secret is rejected", { secret: "" }, "secret");
    await rejects(
      "a secret of 1025 characters is rejected",
      { secret: "s".repeat(1025) },
      "secret",
    );
    await rejects("a missing secret is rejected", { secret: undefined }, "secret");
    await rejects("a missing vendor is rejected", { vendor: undefined }, "vendor");
    await rejects("a missing configName is rejected", { configName: undefined }, "configName");
    await rejects("a missing baseUrl is rejected", { baseUrl: undefined }, "baseUrl");
    await rejects("a missing accountRef is rejected", { accountRef: undefined }, "accountRef");
    await rejects(
      "an unknown field such as tenantId is rejected and named",
      { tenantId: newTenant() },
      "tenantId",
    );

    await t.step("a body that is not JSON is a 400 with code MTCH-1003", async () => {
      const res = await h.request(BASE, {
        method: "POST",
        tenant,
        headers: { "Content-Type": "application/json" },
        body: '{"vendor": "pluggy", "configName": ',
      });
      const body = await expectError(res, 400, "MTCH-1003");
      assert.equal(body.title, "Bad Request");
      assert.equal(await countRows(h, tenant), 0);
    });

    await t.step("a text/plain body is a 400 even when it holds valid JSON", async () => {
      const res = await h.request(BASE, {
        method: "POST",
        tenant,
        headers: { "Content-Type": "text/plain" },
        body: JSON.stringify(pluggyBody()),
      });
      const body = await expectError(res, 400, "MTCH-1003");
      assert.equal(body.title, "Bad Request");
      assert.equal(await countRows(h, tenant), 0);
    });

    await t.step("a JSON type the body validator would refuse is our 400, not a 500", async () => {
      // Our guard once let "application/json ;charset=utf-8" through; the validator answered 415.
      for (const type of ["application/json ;charset=utf-8", "application/json; charset"]) {
        const res = await h.request(BASE, {
          method: "POST",
          tenant,
          headers: { "Content-Type": type },
          body: JSON.stringify(pluggyBody()),
        });
        await expectError(res, 400, "MTCH-1003");
      }
      assert.equal(await countRows(h, tenant), 0);
    });

    await t.step("a JSON array body is a 400 naming the body", async () => {
      const res = await h.request(BASE, { method: "POST", tenant, json: [pluggyBody()] });
      await expectBadRequest(res, "body");
      assert.equal(await countRows(h, tenant), 0);
    });

    await t.step("a body over 64 KiB is a 413 with code MTCH-1004", async () => {
      const res = await h.request(BASE, {
        method: "POST",
        tenant,
        json: pluggyBody({ accountRef: "r".repeat(65 * 1024) }),
      });
      const body = await expectError(res, 413, "MTCH-1004");
      assert.equal(body.title, "Content Too Large");
      assert.equal(await countRows(h, tenant), 0);
    });

    await t.step(
      "a body over 64 KiB sent without Content-Length (chunked) is also a 413",
      async () => {
        const bytes = new TextEncoder().encode(
          JSON.stringify(pluggyBody({ accountRef: "r".repeat(65 * 1024) })),
        );
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < bytes.length; i += 8192) {
              controller.enqueue(bytes.subarray(i, i + 8192));
            }
            controller.close();
          },
        });
        const res = await h.request(BASE, {
          method: "POST",
          tenant,
          headers: { "Content-Type": "application/json" },
          body: stream,
        });
        const body = await expectError(res, 413, "MTCH-1004");
        assert.equal(body.title, "Content Too Large");
        assert.equal(await countRows(h, tenant), 0);
      },
    );

    await t.step("after every rejection the tenant still has no row at all", async () => {
      assert.equal(await countRows(h, tenant), 0);
      const res = await h.request(BASE, { tenant });
      assert.equal(res.status, 200);
      assert.deepEqual((await res.json()).items, []);
    });
  } finally {
    await h.close();
  }
});

Deno.test("create accepts the boundaries of each rule and stores normalized values", async (t) => {
  const h = await startHarness();
  try {
    const accepts = async (name: string, overrides: Record<string, unknown>) => {
      let created: Record<string, string> = {};
      await t.step(name, async () => {
        const tenant = newTenant();
        const res = await h.request(BASE, { method: "POST", tenant, json: pluggyBody(overrides) });
        const text = await res.text();
        assert.equal(res.status, 201, text);
        created = JSON.parse(text);
        assert.equal(await countRows(h, tenant), 1);
      });
      return created;
    };

    await t.step('a configName of "  pluggy-main  " is accepted and stored trimmed', async () => {
      const tenant = newTenant();
      const res = await h.request(BASE, {
        method: "POST",
        tenant,
        json: pluggyBody({ configName: "  pluggy-main  " }),
      });
      assert.equal(res.status, 201);
      const body = await res.json();
      assert.equal(body.configName, "pluggy-main");
      const row = await rowOf(h, body.id);
      assert.equal(row.config_name, "pluggy-main");
      // The trimmed name is the identity: the untrimmed spelling is a duplicate of it.
      const again = await h.request(BASE, { method: "POST", tenant, json: pluggyBody() });
      assert.equal(again.status, 409);
    });

    await accepts("a configName of exactly 3 characters is accepted", { configName: "a_1" });
    await accepts("a configName of exactly 100 characters is accepted", {
      configName: "A-_9".repeat(25),
    });
    for (const host of ["api.belvo.com", "sandbox.belvo.com", "development.belvo.com"]) {
      const created = await accepts(`belvo's host ${host} is accepted for a belvo connection`, {
        vendor: "belvo",
        baseUrl: `https://${host}`,
      });
      await t.step(`the belvo connection on ${host} is stored with that host`, () => {
        assert.equal(created.vendor, "belvo");
        assert.equal(created.baseUrl, `https://${host}`);
      });
    }
    await accepts("a baseUrl with a path on the vendor's host is accepted", {
      baseUrl: "https://api.pluggy.ai/v1",
    });
    await accepts("an accountRef of exactly 200 characters is accepted", {
      accountRef: "r".repeat(200),
    });
    await accepts("a clientId and secret of exactly 1024 characters are accepted", {
      clientId: "c".repeat(1024),
      secret: "s".repeat(1024),
    });
  } finally {
    await h.close();
  }
});

Deno.test("a host in the egress allow list is accepted, over plain http only when allowed", async (t) => {
  await t.step("with allowHttp false, https to the host is accepted and http is not", async () => {
    const h = await startHarness({ egress: { allowHosts: ["fake.test:8443"] } });
    try {
      const tenant = newTenant();
      const ok = await h.request(BASE, {
        method: "POST",
        tenant,
        json: pluggyBody({ baseUrl: "https://fake.test:8443" }),
      });
      assert.equal(ok.status, 201);
      assert.equal((await ok.json()).baseUrl, "https://fake.test:8443");

      const other = newTenant();
      const plain = await h.request(BASE, {
        method: "POST",
        tenant: other,
        json: pluggyBody({ baseUrl: "http://fake.test:8443" }),
      });
      await expectBadRequest(plain, "baseUrl", "MTCH-1012");
      const otherPort = await h.request(BASE, {
        method: "POST",
        tenant: other,
        json: pluggyBody({ baseUrl: "https://fake.test:9443" }),
      });
      await expectBadRequest(otherPort, "baseUrl", "MTCH-1012");
      assert.equal(await countRows(h, other), 0);
    } finally {
      await h.close();
    }
  });

  await t.step("with allowHttp true, http to the listed host is accepted", async () => {
    const h = await startHarness({ egress: { allowHosts: ["fake.test:8443"], allowHttp: true } });
    try {
      const tenant = newTenant();
      const res = await h.request(BASE, {
        method: "POST",
        tenant,
        json: pluggyBody({ baseUrl: "http://fake.test:8443" }),
      });
      assert.equal(res.status, 201);
      assert.equal((await res.json()).baseUrl, "http://fake.test:8443");
    } finally {
      await h.close();
    }
  });

  await t.step("with allowHttp true, http to the vendor's own host is still rejected", async () => {
    const h = await startHarness({ egress: { allowHosts: ["fake.test:8443"], allowHttp: true } });
    try {
      const tenant = newTenant();
      const res = await h.request(BASE, {
        method: "POST",
        tenant,
        json: pluggyBody({ baseUrl: "http://api.pluggy.ai" }),
      });
      await expectBadRequest(res, "baseUrl", "MTCH-1012");
      assert.equal(await countRows(h, tenant), 0);
    } finally {
      await h.close();
    }
  });

  await t.step("without an allow list, the same host is rejected", async () => {
    const h = await startHarness();
    try {
      const tenant = newTenant();
      const res = await h.request(BASE, {
        method: "POST",
        tenant,
        json: pluggyBody({ baseUrl: "https://fake.test:8443" }),
      });
      await expectBadRequest(res, "baseUrl", "MTCH-1012");
      assert.equal(await countRows(h, tenant), 0);
    } finally {
      await h.close();
    }
  });
});

Deno.test("update rejects each invalid body with a 400 naming the field and leaves the row as it was", async (t) => {
  const h = await startHarness();
  const tenant = newTenant();
  try {
    const res = await h.request(BASE, { method: "POST", tenant, json: pluggyBody() });
    assert.equal(res.status, 201);
    const { id } = await res.json();
    const valid = {
      configName: "pluggy-renamed",
      baseUrl: "https://api.pluggy.ai/v2",
      accountRef: "item-9",
    };

    const rejects = async (
      name: string,
      body: Record<string, unknown>,
      field: string,
      code = "MTCH-1001",
    ) => {
      await t.step(name, async () => {
        const before = await rowOf(h, id);
        const res = await h.request(`${BASE}/${id}`, { method: "PUT", tenant, json: body });
        await expectBadRequest(res, field, code);
        assert.deepEqual(await rowOf(h, id), before, "a rejected update changes nothing");
      });
    };

    await rejects(
      "an update without configName is rejected",
      { ...valid, configName: undefined },
      "configName",
    );
    await rejects(
      "an update without baseUrl is rejected",
      { ...valid, baseUrl: undefined },
      "baseUrl",
    );
    await rejects(
      "an update without accountRef is rejected",
      { ...valid, accountRef: undefined },
      "accountRef",
    );
    await rejects(
      "an update with an invalid configName is rejected",
      { ...valid, configName: "ab!" },
      "configName",
    );
    await rejects(
      "an update checks baseUrl against the stored vendor's hosts",
      { ...valid, baseUrl: "https://api.belvo.com" },
      "baseUrl",
      "MTCH-1012",
    );
    await rejects(
      "an update naming another vendor is rejected as a vendor mismatch",
      { ...valid, vendor: "belvo" },
      "vendor",
      "MTCH-1010",
    );
    await rejects(
      "an update naming another vendor with that vendor's host is still a vendor mismatch",
      { ...valid, vendor: "belvo", baseUrl: "https://api.belvo.com" },
      "vendor",
      "MTCH-1010",
    );
    await rejects(
      "an update with only clientId is rejected naming the missing secret",
      { ...valid, clientId: "new-id" },
      "secret",
      "MTCH-1011",
    );
    await rejects(
      "an update with only secret is rejected naming the missing clientId",
      { ...valid, secret: "new-secret" },
      "clientId",
      "MTCH-1011",
    );
    await rejects(
      "an update with an empty clientId is rejected",
      { ...valid, clientId: "", secret: "new-secret" },
      "clientId",
    );
    await rejects(
      "an update with an unknown field is rejected naming it",
      { ...valid, tenantId: newTenant() },
      "tenantId",
    );

    await t.step("an update that is not JSON is a 400 and changes nothing", async () => {
      const before = await rowOf(h, id);
      const res = await h.request(`${BASE}/${id}`, {
        method: "PUT",
        tenant,
        headers: { "Content-Type": "application/json" },
        body: "{",
      });
      await expectError(res, 400, "MTCH-1003");
      assert.deepEqual(await rowOf(h, id), before);
    });

    await t.step("an update sending the stored vendor is accepted", async () => {
      const before = await rowOf(h, id);
      const res = await h.request(`${BASE}/${id}`, {
        method: "PUT",
        tenant,
        json: { ...valid, vendor: "pluggy" },
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.vendor, "pluggy");
      assert.equal(body.configName, "pluggy-renamed");
      assert.equal(body.baseUrl, "https://api.pluggy.ai/v2");
      assert.equal(body.accountRef, "item-9");
      const after = await rowOf(h, id);
      assert.equal(after.config_name, "pluggy-renamed");
      assert.deepEqual(after.sealed_credential, before.sealed_credential);
    });
  } finally {
    await h.close();
  }
});

Deno.test("list rejects a bad limit or cursor with a 400 and defaults the limit to 20", async (t) => {
  const h = await startHarness();
  const tenant = newTenant();
  try {
    for (const limit of ["0", "201", "-1", "abc", "1.5", ""]) {
      await t.step(`limit=${JSON.stringify(limit)} is a 400 naming limit`, async () => {
        const res = await h.request(`${BASE}?limit=${encodeURIComponent(limit)}`, { tenant });
        await expectBadRequest(res, "limit", "MTCH-1002");
      });
    }

    const cursors: Record<string, string> = {
      "a cursor that is not base64url": "!!!",
      "a cursor that is base64url of text that is not JSON": base64url("hello, not json"),
      "a cursor whose JSON id is not a UUID": base64url(
        JSON.stringify({ t: new Date().toISOString(), i: "not-a-uuid" }),
      ),
      "a cursor whose JSON time is not a time": base64url(
        JSON.stringify({ t: "yesterday", i: crypto.randomUUID() }),
      ),
      "a cursor that is base64url of JSON null": base64url("null"),
      // Dates JavaScript reads but Postgres does not (it has no year 0): these were 500s.
      ...Object.fromEntries(
        ["0000-01-01T00:00:00.000Z", "-000001-01-01T00:00:00.000Z", "+275760-09-13T00:00:00.000Z"]
          .map((t) => [
            `a cursor at ${t}`,
            base64url(JSON.stringify({ t, i: crypto.randomUUID() })),
          ]),
      ),
      "a cursor longer than 512 characters": "A".repeat(513),
    };
    for (const [name, cursor] of Object.entries(cursors)) {
      await t.step(`${name} is a 400 naming cursor`, async () => {
        const res = await h.request(`${BASE}?cursor=${encodeURIComponent(cursor)}`, { tenant });
        await expectBadRequest(res, "cursor", "MTCH-1002");
      });
    }

    await t.step("an unknown query parameter is a 400 naming it", async () => {
      const res = await h.request(`${BASE}?tenantId=${newTenant()}`, { tenant });
      await expectBadRequest(res, "tenantId", "MTCH-1002");
    });

    await t.step("the limits 1 and 200 are accepted", async () => {
      for (const limit of [1, 200]) {
        const res = await h.request(`${BASE}?limit=${limit}`, { tenant });
        assert.equal(res.status, 200);
        assert.equal((await res.json()).limit, limit);
      }
    });

    await t.step("without a limit, a page holds 20 items and reports limit: 20", async () => {
      for (let i = 0; i < 21; i += 7) {
        const batch = Array.from({ length: 7 }, (_, j) =>
          h.request(BASE, {
            method: "POST",
            tenant,
            json: pluggyBody({ configName: `conn-${i + j}` }),
          }));
        for (const res of await Promise.all(batch)) assert.equal(res.status, 201);
      }
      const res = await h.request(BASE, { tenant });
      assert.equal(res.status, 200);
      const page = await res.json();
      assert.equal(page.limit, 20);
      assert.equal(page.items.length, 20);
      assert.equal(page.hasMore, true);
      assert.equal(typeof page.nextCursor, "string");
    });
  } finally {
    await h.close();
  }
});
