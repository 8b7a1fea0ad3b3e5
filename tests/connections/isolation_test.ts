// Tenant isolation, the one-404 policy, races, paging and the secrecy of credentials and tokens.
import assert from "node:assert/strict";
import type { components } from "../../generated/types.ts";
import { type Harness, newTenant, pluggyBody, startHarness } from "../support/harness.ts";

const BASE = "/v1/discovery/aggregator-connections";
const BY_ID_ROUTE = "/v1/discovery/aggregator-connections/:id";
const UUID_ANYWHERE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

type Descriptor = components["schemas"]["AggregatorConnection"];
type Page = components["schemas"]["AggregatorConnectionPage"];

async function create(h: Harness, tenant: string, overrides: Record<string, unknown> = {}) {
  const res = await h.request(BASE, { method: "POST", tenant, json: pluggyBody(overrides) });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text) as Descriptor;
}

/** Every row of the connections table, in a stable order. */
function snapshot(h: Harness) {
  return h.sql`select * from connections order by id`;
}

/** Creates `count` connections through the API, `batch` at a time; answers their ids. */
async function createMany(h: Harness, tenant: string, count: number, prefix: string, batch = 25) {
  const ids: string[] = [];
  for (let start = 0; start < count; start += batch) {
    const end = Math.min(count, start + batch);
    const created = await Promise.all(
      Array.from(
        { length: end - start },
        (_, i) => create(h, tenant, { configName: `${prefix}-${start + i}` }),
      ),
    );
    ids.push(...created.map((c) => c.id));
  }
  return ids;
}

/** True when `a` comes strictly before `b` in the list order: newest first, then id descending. */
function before(a: Descriptor, b: Descriptor): boolean {
  if (a.createdAt !== b.createdAt) return a.createdAt > b.createdAt;
  return a.id.toLowerCase() > b.id.toLowerCase();
}

function assertListOrder(items: Descriptor[]) {
  for (let i = 1; i < items.length; i++) {
    assert.ok(
      before(items[i - 1], items[i]),
      `item ${i - 1} (${items[i - 1].createdAt} ${items[i - 1].id}) comes before item ${i} ` +
        `(${items[i].createdAt} ${items[i].id})`,
    );
  }
}

/** Walks every page with `limit`; `between` runs after each page is fetched. */
async function walk(
  h: Harness,
  tenant: string,
  limit: number,
  between: () => Promise<void> = async () => {},
) {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const res = await h.request(`${BASE}?limit=${limit}${query}`, { tenant });
    assert.equal(res.status, 200);
    const page = await res.json() as Page;
    pages.push(page);
    assert.ok(pages.length <= 1000, "the walk ends");
    cursor = page.nextCursor;
    await between();
  } while (cursor !== null);
  return pages;
}

Deno.test("every by-id operation answers the same 404 for any id that is not the tenant's live aggregator connection", async (t) => {
  const h = await startHarness();
  const tenant = newTenant();
  const other = newTenant();
  try {
    const live = await create(h, tenant, { configName: "live-one" });
    const deleted = await create(h, tenant, { configName: "deleted-one" });
    const del = await h.request(`${BASE}/${deleted.id}`, { method: "DELETE", tenant });
    assert.equal(del.status, 204);
    const othersRow = await create(h, other, { configName: "others-one" });
    const databaseId = crypto.randomUUID();
    await h.sql`
      insert into connections (id, tenant_id, kind, connector_type, config_name)
      values (${databaseId}, ${tenant}, 'database', 'postgres', 'warehouse')`;

    const ids: Record<string, string> = {
      "a malformed id (not-a-uuid)": "not-a-uuid",
      "a malformed id (123)": "123",
      "a malformed id of 300 characters": "x".repeat(300),
      "a UUID-shaped id with a non-hex digit": "0b6f0f0e-8a0f-4c1a-9d8e-2f7c3b1a9e5g",
      "an unknown UUID": crypto.randomUUID(),
      "a deleted connection's id": deleted.id,
      "another tenant's connection id": othersRow.id,
      "a database connection's id": databaseId,
    };
    const update = {
      configName: "hijacked",
      baseUrl: "https://api.pluggy.ai",
      accountRef: "hijacked-ref",
    };
    const tableBefore = await snapshot(h);

    // The reference answer: what an unknown id gets.
    const reference = await (await h.request(`${BASE}/${crypto.randomUUID()}`, { tenant })).json();
    assert.equal(reference.code, "MTCH-2404");
    assert.equal(reference.title, "Not Found");
    assert.equal(typeof reference.message, "string");

    for (const [name, id] of Object.entries(ids)) {
      for (const method of ["GET", "PUT", "DELETE"]) {
        await t.step(`${method} with ${name} is the same 404`, async () => {
          const res = await h.request(`${BASE}/${id}`, {
            method,
            tenant,
            json: method === "PUT" ? update : undefined,
          });
          assert.equal(res.status, 404);
          assert.match(res.headers.get("Content-Type") ?? "", /^application\/json/);
          const body = await res.json();
          assert.equal(body.code, "MTCH-2404");
          assert.deepEqual(body, reference);
        });
      }
    }

    await t.step("no 404 attempt changed any row, another tenant's least of all", async () => {
      assert.deepEqual(await snapshot(h), tableBefore);
      const [after] = await h.sql`select * from connections where id = ${othersRow.id}`;
      const [was] = tableBefore.filter((r) => r.id === othersRow.id);
      assert.deepEqual(after, was);
      assert.equal(after.config_name, "others-one");
      assert.equal(after.deleted_at, null);
    });

    await t.step("the other tenant still sees its connection unchanged", async () => {
      const res = await h.request(`${BASE}/${othersRow.id}`, { tenant: other });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), othersRow);
    });

    await t.step("the tenant's own live connection answers 200 on the same routes", async () => {
      const res = await h.request(`${BASE}/${live.id}`, { tenant });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), live);
    });

    await t.step("the database connection never appears in the list", async () => {
      const res = await h.request(`${BASE}?limit=200`, { tenant });
      assert.equal(res.status, 200);
      const page = await res.json() as Page;
      assert.deepEqual(page.items.map((c) => c.id), [live.id]);
      assert.ok(!page.items.some((c) => c.configName === "warehouse"));
    });

    await t.step(
      "an aggregator connection named like the database row is created (201)",
      async () => {
        const res = await h.request(BASE, {
          method: "POST",
          tenant,
          json: pluggyBody({ configName: "warehouse" }),
        });
        assert.equal(res.status, 201);
        const created = await res.json() as Descriptor;
        assert.notEqual(created.id, databaseId);
        const [row] = await h.sql`select * from connections where id = ${databaseId}`;
        assert.deepEqual(row, tableBefore.find((r) => r.id === databaseId));
        const list = await (await h.request(`${BASE}?limit=200`, { tenant })).json() as Page;
        assert.deepEqual(list.items.map((c) => c.id).sort(), [live.id, created.id].sort());
      },
    );
  } finally {
    await h.close();
  }
});

Deno.test("concurrent creates of one configName let exactly one win", async (t) => {
  const h = await startHarness();
  try {
    await t.step("50 concurrent creates for one tenant: one 201 and 49 409", async () => {
      const tenant = newTenant();
      const responses = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) =>
            h.request(BASE, {
              method: "POST",
              tenant,
              json: pluggyBody({ configName: "raced", accountRef: `ref-${i}` }),
            }),
        ),
      );
      const bodies = await Promise.all(responses.map((r) => r.json()));
      const statuses = responses.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
      assert.equal(statuses.filter((s) => s === 409).length, 49, JSON.stringify(statuses));
      for (const [i, body] of bodies.entries()) {
        if (statuses[i] === 409) {
          assert.equal(body.code, "MTCH-2409");
          assert.equal(body.title, "Conflict");
        }
      }
      const winner = bodies[statuses.indexOf(201)] as Descriptor;
      const rows = await h.sql`select id, config_name, deleted_at from connections
                               where tenant_id = ${tenant}`;
      assert.deepEqual(rows.map((r) => r.id), [winner.id]);
      assert.equal(rows[0].config_name, "raced");
      assert.equal(rows[0].deleted_at, null);
    });

    await t.step("two tenants may each create the same configName", async () => {
      const [a, b] = [newTenant(), newTenant()];
      const [ra, rb] = await Promise.all([
        h.request(BASE, { method: "POST", tenant: a, json: pluggyBody({ configName: "shared" }) }),
        h.request(BASE, { method: "POST", tenant: b, json: pluggyBody({ configName: "shared" }) }),
      ]);
      assert.equal(ra.status, 201);
      assert.equal(rb.status, 201);
      const [da, db] = [await ra.json(), await rb.json()];
      assert.notEqual(da.id, db.id);
      const [{ n }] = await h.sql`select count(*)::int as n from connections
        where config_name = 'shared' and tenant_id in (${a}, ${b}) and deleted_at is null`;
      assert.equal(n, 2);
    });
  } finally {
    await h.close();
  }
});

Deno.test("a paged walk returns every row exactly once, newest first", async (t) => {
  const h = await startHarness();
  const tenant = newTenant();
  try {
    const ids = await createMany(h, tenant, 250, "walk");
    assert.equal(new Set(ids).size, 250);

    await t.step("walking 250 rows with limit=7 visits each once in list order", async () => {
      const pages = await walk(h, tenant, 7);
      assert.equal(pages.length, Math.ceil(250 / 7));
      for (const [i, page] of pages.entries()) {
        const last = i === pages.length - 1;
        assert.equal(page.limit, 7);
        assert.equal(page.items.length, last ? 250 % 7 : 7, `page ${i} size`);
        assert.equal(page.hasMore, !last, `page ${i} hasMore`);
        if (last) assert.equal(page.nextCursor, null);
        else assert.equal(typeof page.nextCursor, "string");
      }
      const items = pages.flatMap((p) => p.items);
      assert.equal(items.length, 250);
      assert.equal(new Set(items.map((c) => c.id)).size, 250, "no row twice");
      assert.deepEqual(items.map((c) => c.id).sort(), [...ids].sort(), "every row once");
      assertListOrder(items);
    });

    await t.step(
      "a walk during which rows are created still visits each original once",
      async () => {
        const added: string[] = [];
        let n = 0;
        const pages = await walk(h, tenant, 7, async () => {
          added.push((await create(h, tenant, { configName: `during-${n++}` })).id);
        });
        assert.ok(added.length >= 36, "rows were created between the page fetches");
        const seen = pages.flatMap((p) => p.items.map((c) => c.id));
        assert.equal(new Set(seen).size, seen.length, "no row twice");
        const original = new Set(ids);
        assert.equal(seen.filter((id) => original.has(id)).length, 250, "every original row");
        const addedSet = new Set(added);
        for (const id of seen) {
          assert.ok(original.has(id) || addedSet.has(id), `unexpected id ${id}`);
        }
        assertListOrder(pages.flatMap((p) => p.items));
      },
    );

    await t.step(
      "rows sharing one createdAt are ordered by id across page boundaries",
      async () => {
        const tied = newTenant();
        const tiedIds = Array.from({ length: 10 }, () => crypto.randomUUID());
        for (const [i, id] of tiedIds.entries()) {
          await h.sql`
          insert into connections (id, tenant_id, kind, connector_type, config_name, base_url,
                                   account_ref, sealed_credential, created_at, updated_at)
          values (${id}, ${tied}, 'aggregator', 'pluggy', ${`tied-${i}`}, 'https://api.pluggy.ai',
                  'ref', '\\x00'::bytea, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`;
        }
        const pages = await walk(h, tied, 3);
        assert.equal(pages.length, 4);
        const items = pages.flatMap((p) => p.items);
        assert.deepEqual(
          items.map((c) => c.id),
          [...tiedIds].sort().reverse(),
          "id descending, each once",
        );
      },
    );
  } finally {
    await h.close();
  }
});

Deno.test("a canary credential never leaves the service or rests in plaintext", async () => {
  const h = await startHarness();
  const tenant = newTenant();
  const canaries = [
    `canary-id-${crypto.randomUUID()}`,
    `canary-secret-${crypto.randomUUID()}`,
    `canary-id-${crypto.randomUUID()}`,
    `canary-secret-${crypto.randomUUID()}`,
  ];
  const [id1, secret1, id2, secret2] = canaries;
  const seen: string[] = [];
  const statuses: number[] = [];
  const call = async (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const res = await h.request(path, { tenant, ...init });
    seen.push(await res.text());
    for (const [name, value] of res.headers) seen.push(`${name}: ${value}`);
    statuses.push(res.status);
    return res;
  };
  try {
    const create = await call(BASE, {
      method: "POST",
      json: pluggyBody({ configName: "canary", clientId: id1, secret: secret1 }),
    });
    assert.equal(create.status, 201);
    const [{ id }] = await h.sql`select id from connections where tenant_id = ${tenant}`;

    assert.equal((await call(`${BASE}?limit=200`)).status, 200);
    assert.equal((await call(`${BASE}/${id}`)).status, 200);
    const update = await call(`${BASE}/${id}`, {
      method: "PUT",
      json: {
        configName: "canary",
        baseUrl: "https://api.pluggy.ai",
        accountRef: "rotated",
        clientId: id2,
        secret: secret2,
      },
    });
    assert.equal(update.status, 200);
    const duplicate = await call(BASE, {
      method: "POST",
      json: pluggyBody({ configName: "canary", clientId: id2, secret: secret2 }),
    });
    assert.equal(duplicate.status, 409);
    const invalid = await call(BASE, {
      method: "POST",
      json: pluggyBody({
        configName: "canary-2",
        accountRef: "r".repeat(201),
        clientId: id2,
        secret: secret2,
      }),
    });
    assert.equal(invalid.status, 400);
    const secretTooLong = await call(BASE, {
      method: "POST",
      json: pluggyBody({ configName: "canary-3", secret: secret2.repeat(40) }),
    });
    assert.equal(secretTooLong.status, 400);
    const partial = await call(`${BASE}/${id}`, {
      method: "PUT",
      json: {
        configName: "canary",
        baseUrl: "https://api.pluggy.ai",
        accountRef: "x",
        secret: secret2,
      },
    });
    assert.equal(partial.status, 400);
    const malformed = await call(BASE, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: `{"clientId": "${id2}", "secret": "${secret2}",`,
    });
    assert.equal(malformed.status, 400);
    const tooLarge = await call(BASE, {
      method: "POST",
      json: pluggyBody({ clientId: id2, secret: secret2, accountRef: secret2.repeat(2000) }),
    });
    assert.equal(tooLarge.status, 413);
    assert.equal((await call(`${BASE}/${id}`, { method: "DELETE" })).status, 204);
    assert.equal((await call(`${BASE}/${id}`)).status, 404);

    assert.ok(seen.some((text) => text.includes("canary")), "the responses were captured");
    for (const canary of canaries) {
      for (const text of seen) assert.ok(!text.includes(canary), `a response carries ${canary}`);
      for (const line of h.logs) assert.ok(!line.includes(canary), `a log line carries ${canary}`);
    }
    assert.ok(h.logs.length >= statuses.length, "the requests were logged");

    const columns = await h.sql<{ table_name: string; column_name: string; data_type: string }[]>`
      select table_name, column_name, data_type from information_schema.columns
      where table_schema = 'public'
        and data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea')`;
    const textColumns = columns.filter((c) => c.data_type !== "bytea");
    const byteColumns = columns.filter((c) => c.data_type === "bytea");
    assert.ok(textColumns.some((c) => c.column_name === "config_name"));
    assert.ok(byteColumns.some((c) => c.column_name === "sealed_credential"));

    const hits = async (needle: string) => {
      let n = 0;
      for (const c of textColumns) {
        const [r] = await h.sql`select count(*)::int as n from ${h.sql(c.table_name)}
          where position(${needle} in ${h.sql(c.column_name)}::text) > 0`;
        n += r.n;
      }
      for (const c of byteColumns) {
        const [r] = await h.sql`select count(*)::int as n from ${h.sql(c.table_name)}
          where position(convert_to(${needle}, 'UTF8') in ${h.sql(c.column_name)}) > 0`;
        n += r.n;
      }
      return n;
    };
    // The search finds what is there: the config name is stored in plaintext, in the connection
    // and in the audit record of its creation.
    assert.equal(await hits("canary"), 2);
    for (const canary of canaries) assert.equal(await hits(canary), 0, `${canary} is at rest`);
  } finally {
    await h.close();
  }
});

Deno.test("bearer tokens never reach the logs, and each request logs one JSON line", async () => {
  const h = await startHarness();
  const tenant = newTenant();
  const token = await h.token(tenant);
  const forged = token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
  const answers: { requestId: string; method: string; status: number }[] = [];
  const call = async (
    path: string,
    init: RequestInit & { json?: unknown } = {},
    bearer = token,
  ) => {
    const res = await h.request(path, {
      ...init,
      headers: { ...init.headers as Record<string, string>, Authorization: `Bearer ${bearer}` },
    });
    const body = await res.text();
    assert.ok(!body.includes(bearer), "a response carries the token");
    const requestId = res.headers.get("X-Request-Id");
    assert.ok(requestId, "every response has a request id");
    answers.push({ requestId, method: init.method ?? "GET", status: res.status });
    return { res, body };
  };
  try {
    const created = await call(BASE, { method: "POST", json: pluggyBody() });
    assert.equal(created.res.status, 201);
    const { id } = JSON.parse(created.body);
    assert.equal((await call(`${BASE}?limit=5`)).res.status, 200);
    assert.equal((await call(`${BASE}/${id}`)).res.status, 200);
    assert.equal(
      (await call(`${BASE}/${id}`, {
        method: "PUT",
        json: { configName: "pluggy-main", baseUrl: "https://api.pluggy.ai", accountRef: "x" },
      })).res.status,
      200,
    );
    assert.equal((await call(BASE, { method: "POST", json: pluggyBody() })).res.status, 409);
    assert.equal((await call(`${BASE}/${crypto.randomUUID()}`)).res.status, 404);
    assert.equal((await call(`${BASE}?limit=0`)).res.status, 400);
    assert.equal((await call(`${BASE}/${id}`, {}, forged)).res.status, 401);
    assert.equal((await call(`${BASE}/${id}`, { method: "DELETE" })).res.status, 204);

    for (const line of h.logs) {
      assert.ok(!line.includes(token), "a log line carries the bearer token");
      assert.ok(!line.includes(forged), "a log line carries the forged token");
      assert.ok(!line.includes(token.split(".")[2]), "a log line carries the token's signature");
    }

    const records = h.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const record of records) {
      assert.equal(typeof record.requestId, "string");
      assert.equal(typeof record.method, "string");
      assert.equal(typeof record.route, "string");
      assert.equal(typeof record.status, "number");
      assert.equal(typeof record.durationMs, "number");
      assert.ok((record.durationMs as number) >= 0);
      assert.doesNotMatch(record.route as string, UUID_ANYWHERE, "a route is a pattern");
    }
    for (const answer of answers) {
      const matching = records.filter((r) => r.requestId === answer.requestId);
      assert.equal(matching.length, 1, `one log line for request ${answer.requestId}`);
      assert.equal(matching[0].method, answer.method);
      assert.equal(matching[0].status, answer.status);
    }
    const byId = records.filter((r) => (r.route as string).startsWith(`${BASE}/`));
    assert.ok(byId.length >= 5);
    for (const record of byId) assert.equal(record.route, BY_ID_ROUTE);
  } finally {
    await h.close();
  }
});
