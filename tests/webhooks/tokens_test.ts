// Webhook tokens: mint, list, revoke, revocation with the connection, and the KV token store.
import assert from "node:assert/strict";
import type { components } from "../../generated/types.ts";
import { isUuid } from "../../src/lib/uuid.ts";
import {
  findToken,
  hashToken,
  listTokens,
  newTokenValue,
  revokeConnectionTokens,
  revokeToken,
  storeToken,
  touchToken,
  type WebhookTokenRecord,
} from "../../src/webhooks/tokens.repository.ts";
import { uuidV7 } from "../../src/lib/uuid_v7.ts";
import { type Harness, newTenant, pluggyBody, startHarness } from "../support/harness.ts";

const CONNECTIONS = "/v1/discovery/aggregator-connections";
const TOKENS = "/v1/discovery/webhooks/tokens";
const TOKEN_FORM = /^mwh_[A-Za-z0-9_-]{43}$/;

type Minted = components["schemas"]["MintedWebhookToken"];
type Page = components["schemas"]["WebhookTokenPage"];

async function createConnection(h: Harness, tenant: string, overrides = {}): Promise<string> {
  const res = await h.request(CONNECTIONS, { method: "POST", tenant, json: pluggyBody(overrides) });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text).id;
}

function mintRequest(h: Harness, tenant: string, json: unknown) {
  return h.request(TOKENS, { method: "POST", tenant, json });
}

async function mint(h: Harness, tenant: string, configName = "pluggy-main"): Promise<Minted> {
  const res = await mintRequest(h, tenant, {
    vendor: "pluggy",
    connection_config_name: configName,
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text);
}

async function expectError(res: Response, status: number, code: string) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(JSON.parse(text).code, code);
}

async function listPage(h: Harness, tenant: string, query = ""): Promise<Page> {
  const res = await h.request(`${TOKENS}${query}`, { tenant });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

/** Every page of the tenant's tokens with `limit`, following nextCursor to the end. */
async function walk(h: Harness, tenant: string, limit: number): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    pages.push(await listPage(h, tenant, `?limit=${limit}${query}`));
    assert.ok(pages.length <= 100, "the walk ends");
    cursor = pages[pages.length - 1].nextCursor;
  } while (cursor !== null);
  return pages;
}

/** Every KV entry, key and value, as one text per entry. */
async function kvDump(kv: Deno.Kv): Promise<string[]> {
  const entries: string[] = [];
  for await (const entry of kv.list({ prefix: [] })) {
    entries.push(JSON.stringify([entry.key, entry.value]));
  }
  return entries;
}

async function tokenKeyCount(kv: Deno.Kv): Promise<number> {
  return (await kvDump(kv)).filter((e) => e.includes("webhook_tokens")).length;
}

/**
 * A KV whose reads are counted and whose `get` runs `afterGet` before its caller sees the result
 * (to put a competing write between a read and the write that depends on it).
 */
function watchReads(kv: Deno.Kv, afterGet: () => Promise<void> = async () => {}) {
  const counter = { reads: 0 };
  const proxy = new Proxy(kv, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== "function") return value;
      const fn = value.bind(target);
      if (name === "get") {
        return async (...args: Parameters<Deno.Kv["get"]>) => {
          counter.reads++;
          const result = await fn(...args);
          await afterGet();
          return result;
        };
      }
      if (name === "getMany" || name === "list") {
        return (...args: unknown[]) => {
          counter.reads++;
          return fn(...args);
        };
      }
      return fn;
    },
  });
  return { kv: proxy, counter };
}

function sampleRecord(overrides: Partial<WebhookTokenRecord> = {}): WebhookTokenRecord {
  const now = Date.now();
  return {
    id: uuidV7(now),
    tenantId: newTenant(),
    vendor: "pluggy",
    connectionId: crypto.randomUUID(),
    createdAt: new Date(now).toISOString(),
    lastUsedAt: null,
    ...overrides,
  };
}

Deno.test("minting a webhook token answers it once and stores only its hash", async (t) => {
  const h = await startHarness();
  const tenant = newTenant();
  try {
    const connectionId = await createConnection(h, tenant);
    let minted!: Minted;

    await t.step(
      "mint answers 201 with exactly id, token, webhookUrl, vendor, createdAt",
      async () => {
        minted = await mint(h, tenant);
        assert.deepEqual(Object.keys(minted).sort(), [
          "createdAt",
          "id",
          "token",
          "vendor",
          "webhookUrl",
        ]);
        assert.match(minted.token, TOKEN_FORM);
        assert.equal(minted.vendor, "pluggy");
        assert.ok(isUuid(minted.id));
        assert.equal(minted.id[14], "7", "the id is a version 7 UUID");
        assert.equal(new Date(minted.createdAt).toISOString(), minted.createdAt);
      },
    );

    await t.step("webhookUrl is the public URL, the vendor and the token", () => {
      assert.equal(minted.webhookUrl, `${h.baseUrl}/v1/discovery/webhooks/pluggy/${minted.token}`);
    });

    await t.step("the token finds a record bound to the connection and tenant", async () => {
      const record = await findToken(h.kv, minted.token);
      assert.deepEqual(record, {
        id: minted.id,
        tenantId: tenant,
        vendor: "pluggy",
        connectionId,
        createdAt: minted.createdAt,
        lastUsedAt: null,
      });
    });

    await t.step("KV holds the token's hash and no key or value containing the token", async () => {
      const dump = await kvDump(h.kv);
      const secretPart = minted.token.slice("mwh_".length);
      assert.ok(dump.length > 0);
      for (const entry of dump) assert.ok(!entry.includes(secretPart), entry);
      const hash = hashToken(minted.token);
      assert.match(hash, /^[0-9a-f]{64}$/);
      assert.ok((await h.kv.get(["webhook_tokens", hash])).value, "stored under its hash");
    });

    await t.step("a second mint for the same connection gives a second live token", async () => {
      const second = await mint(h, tenant);
      assert.notEqual(second.id, minted.id);
      assert.notEqual(second.token, minted.token);
      assert.equal((await findToken(h.kv, minted.token))?.id, minted.id);
      assert.equal((await findToken(h.kv, second.token))?.id, second.id);
    });

    await t.step("the config name is trimmed before the lookup", async () => {
      const trimmed = await mint(h, tenant, "  pluggy-main\t");
      assert.equal((await findToken(h.kv, trimmed.token))?.connectionId, connectionId);
    });
  } finally {
    await h.close();
  }
});

Deno.test("webhookUrl starts with the configured public URL", async () => {
  const h = await startHarness({ publicUrl: "https://hooks.example.com/base" });
  const tenant = newTenant();
  try {
    await createConnection(h, tenant);
    const minted = await mint(h, tenant);
    assert.equal(
      minted.webhookUrl,
      `https://hooks.example.com/base/v1/discovery/webhooks/pluggy/${minted.token}`,
    );
  } finally {
    await h.close();
  }
});

Deno.test("mint answers 404 or 400, and stores nothing, when it cannot bind a token", async (t) => {
  const h = await startHarness();
  const tenant = newTenant();
  const other = newTenant();
  try {
    await createConnection(h, tenant);
    await createConnection(h, other, { configName: "theirs" });
    const deletedId = await createConnection(h, tenant, { configName: "gone" });
    const del = await h.request(`${CONNECTIONS}/${deletedId}`, { method: "DELETE", tenant });
    assert.equal(del.status, 204);

    const notFound: [string, Record<string, unknown>][] = [
      ["a missing connection", { vendor: "pluggy", connection_config_name: "nope" }],
      ["another tenant's connection", { vendor: "pluggy", connection_config_name: "theirs" }],
      ["a deleted connection", { vendor: "pluggy", connection_config_name: "gone" }],
      ["the right name under the other vendor", {
        vendor: "belvo",
        connection_config_name: "pluggy-main",
      }],
      ["a name that is only white space", { vendor: "pluggy", connection_config_name: "   " }],
    ];
    for (const [what, body] of notFound) {
      await t.step(`${what} is 404 MTCH-2404`, async () => {
        await expectError(await mintRequest(h, tenant, body), 404, "MTCH-2404");
      });
    }

    const invalid: [string, unknown][] = [
      ["an invalid vendor", { vendor: "plaid", connection_config_name: "pluggy-main" }],
      ["a missing connection_config_name", { vendor: "pluggy" }],
      ["a missing vendor", { connection_config_name: "pluggy-main" }],
      ["an extra field", {
        vendor: "pluggy",
        connection_config_name: "pluggy-main",
        connectionId: crypto.randomUUID(),
      }],
      ["an empty connection_config_name", { vendor: "pluggy", connection_config_name: "" }],
    ];
    for (const [what, body] of invalid) {
      await t.step(`${what} is 400 MTCH-1001`, async () => {
        await expectError(await mintRequest(h, tenant, body), 400, "MTCH-1001");
      });
    }

    await t.step("none of those stored a token", async () => {
      assert.equal(await tokenKeyCount(h.kv), 0);
    });
  } finally {
    await h.close();
  }
});

Deno.test("the token list is newest first, pages cleanly and shows metadata only", async (t) => {
  const h = await startHarness();
  const tenant = newTenant();
  try {
    const first = await createConnection(h, tenant);
    await createConnection(h, tenant, { configName: "pluggy-second" });
    const minted: Minted[] = [];
    for (let i = 0; i < 7; i++) {
      minted.push(await mint(h, tenant, i % 2 === 0 ? "pluggy-main" : "pluggy-second"));
    }
    const all = (await listPage(h, tenant, "?limit=200")).items;

    await t.step("the list holds every minted token, newest first", () => {
      assert.deepEqual(all.map((i) => i.id).sort(), minted.map((m) => m.id).sort());
      for (let i = 1; i < all.length; i++) {
        assert.ok(all[i - 1].createdAt >= all[i].createdAt, `item ${i - 1} is not older`);
        assert.ok(all[i - 1].id > all[i].id, `item ${i - 1} comes first in id order`);
      }
      const newest = minted.reduce((a, b) => (b.createdAt > a.createdAt ? b : a));
      assert.equal(all[0].createdAt, newest.createdAt);
    });

    await t.step("items carry exactly the metadata fields and the connection's name", () => {
      for (const item of all) {
        assert.deepEqual(Object.keys(item).sort(), [
          "configName",
          "connectionId",
          "createdAt",
          "id",
          "lastUsedAt",
          "vendor",
          "withHeaderSecret",
        ]);
        const m = minted.find((x) => x.id === item.id)!;
        assert.equal(item.createdAt, m.createdAt);
        assert.equal(item.lastUsedAt, null);
        assert.equal(item.withHeaderSecret, false);
        assert.equal(item.vendor, "pluggy");
      }
      const onFirst = all.filter((i) => i.connectionId === first);
      assert.equal(onFirst.length, 4);
      assert.ok(onFirst.every((i) => i.configName === "pluggy-main"));
      assert.ok(
        all.filter((i) => i.connectionId !== first).every((i) => i.configName === "pluggy-second"),
      );
    });

    for (let limit = 1; limit <= 8; limit++) {
      await t.step(`limit ${limit} walks every token once, in list order`, async () => {
        const pages = await walk(h, tenant, limit);
        assert.deepEqual(pages.flatMap((p) => p.items.map((i) => i.id)), all.map((i) => i.id));
        assert.equal(pages.length, Math.max(1, Math.ceil(all.length / limit)));
        for (const [n, page] of pages.entries()) {
          const last = n === pages.length - 1;
          assert.equal(page.limit, limit);
          assert.equal(page.hasMore, !last);
          assert.equal(page.nextCursor === null, last);
        }
      });
    }

    await t.step("no page contains a token or a token hash", async () => {
      const text = JSON.stringify(await walk(h, tenant, 3));
      for (const m of minted) {
        assert.ok(!text.includes(m.token.slice(4)), "raw token");
        assert.ok(!text.includes(hashToken(m.token)), "hash");
      }
      assert.ok(!text.includes('"token"'));
    });

    await t.step("a renamed connection shows its new name", async () => {
      const res = await h.request(`${CONNECTIONS}/${first}`, {
        method: "PUT",
        tenant,
        json: {
          configName: "pluggy-renamed",
          baseUrl: "https://api.pluggy.ai",
          accountRef: "a1b2c3d4-5678-90ab-cdef-1234567890ab",
        },
      });
      assert.equal(res.status, 200, await res.text());
      const items = (await listPage(h, tenant)).items.filter((i) => i.connectionId === first);
      assert.equal(items.length, 4);
      assert.ok(items.every((i) => i.configName === "pluggy-renamed"));
    });

    await t.step("a bad cursor or limit is 400 MTCH-1002", async () => {
      for (
        const query of ["?cursor=not-a-cursor", "?cursor=eyJ0IjoxfQ", "?limit=0", "?limit=201"]
      ) {
        await expectError(await h.request(`${TOKENS}${query}`, { tenant }), 400, "MTCH-1002");
      }
    });

    await t.step("another tenant sees an empty list", async () => {
      const page = await listPage(h, newTenant());
      assert.deepEqual(page, { items: [], nextCursor: null, limit: 20, hasMore: false });
    });
  } finally {
    await h.close();
  }
});

Deno.test("a token whose connection was deleted behind KV's back is left out of the list", async () => {
  const h = await startHarness();
  const tenant = newTenant();
  try {
    const kept = await createConnection(h, tenant);
    const orphaned = await createConnection(h, tenant, { configName: "orphaned" });
    const older = await mint(h, tenant);
    const middle = await mint(h, tenant, "orphaned");
    const newer = await mint(h, tenant);
    // As if the process died between the soft delete and the revocation.
    await h.sql`update connections set deleted_at = now() where id = ${orphaned}`;

    const whole = await listPage(h, tenant);
    assert.deepEqual(whole.items.map((i) => i.id), [newer.id, older.id]);
    assert.ok(whole.items.every((i) => i.connectionId === kept));
    assert.notEqual(await findToken(h.kv, middle.token), undefined, "the setup left it in KV");

    const ids = (await walk(h, tenant, 1)).flatMap((p) => p.items.map((i) => i.id));
    assert.deepEqual(ids, [newer.id, older.id], "paging past the left-out token loses nothing");
  } finally {
    await h.close();
  }
});

Deno.test("revoking a token stops it at once and answers one 404 for anything else", async (t) => {
  const h = await startHarness();
  const tenant = newTenant();
  const other = newTenant();
  try {
    await createConnection(h, tenant);
    const revoked = await mint(h, tenant);
    const kept = await mint(h, tenant);

    await t.step("another tenant cannot revoke it", async () => {
      const res = await h.request(`${TOKENS}/${revoked.id}`, { method: "DELETE", tenant: other });
      await expectError(res, 404, "MTCH-3404");
      assert.equal((await findToken(h.kv, revoked.token))?.id, revoked.id);
    });

    await t.step("revoke answers 204 with no body", async () => {
      const res = await h.request(`${TOKENS}/${revoked.id}`, { method: "DELETE", tenant });
      assert.equal(res.status, 204);
      assert.equal(await res.text(), "");
    });

    await t.step("the revoked token finds nothing and leaves no key behind", async () => {
      assert.equal(await findToken(h.kv, revoked.token), undefined);
      const hash = hashToken(revoked.token);
      for (const entry of await kvDump(h.kv)) {
        assert.ok(!entry.includes(revoked.id) && !entry.includes(hash), entry);
      }
    });

    await t.step("the other token of the connection still works and is still listed", async () => {
      assert.equal((await findToken(h.kv, kept.token))?.id, kept.id);
      assert.deepEqual((await listPage(h, tenant)).items.map((i) => i.id), [kept.id]);
    });

    const ids: [string, string][] = [
      ["a second revoke", revoked.id],
      ["an unknown id", uuidV7(Date.now())],
      ["a malformed id", "not-a-uuid"],
      ["the raw token instead of its id", kept.token],
      ["an id far longer than any KV key", "a".repeat(5000)],
    ];
    for (const [what, id] of ids) {
      await t.step(`${what} is 404 MTCH-3404`, async () => {
        const res = await h.request(`${TOKENS}/${id}`, { method: "DELETE", tenant });
        await expectError(res, 404, "MTCH-3404");
      });
    }
    await t.step("and the kept token survived all of them", async () => {
      assert.equal((await findToken(h.kv, kept.token))?.id, kept.id);
    });
  } finally {
    await h.close();
  }
});

Deno.test("deleting a connection revokes every token bound to it, and only those", async () => {
  const h = await startHarness();
  const tenant = newTenant();
  try {
    const doomed = await createConnection(h, tenant);
    await createConnection(h, tenant, { configName: "pluggy-other" });
    const gone = [await mint(h, tenant), await mint(h, tenant), await mint(h, tenant)];
    const kept = await mint(h, tenant, "pluggy-other");

    const res = await h.request(`${CONNECTIONS}/${doomed}`, { method: "DELETE", tenant });
    assert.equal(res.status, 204);

    for (const m of gone) assert.equal(await findToken(h.kv, m.token), undefined);
    assert.equal((await findToken(h.kv, kept.token))?.id, kept.id);
    assert.deepEqual((await listPage(h, tenant)).items.map((i) => i.id), [kept.id]);
    for (const entry of await kvDump(h.kv)) assert.ok(!entry.includes(doomed), entry);
  } finally {
    await h.close();
  }
});

Deno.test("the raw token never appears in a log line", async () => {
  const h = await startHarness();
  const tenant = newTenant();
  try {
    const connectionId = await createConnection(h, tenant);
    const minted = await mint(h, tenant);
    await (await h.request(TOKENS, { tenant })).body?.cancel();
    // Its webhook URL, as the aggregator would call it (the receiver may not exist yet).
    await (await h.request(new URL(minted.webhookUrl).pathname, {
      method: "POST",
      json: { event: "item/updated" },
    })).body?.cancel();
    await (await h.request(`${TOKENS}/${minted.id}`, { method: "DELETE", tenant })).body?.cancel();
    await (await h.request(`${CONNECTIONS}/${connectionId}`, { method: "DELETE", tenant })).body
      ?.cancel();
    assert.ok(h.logs.length >= 5, "the requests were logged");
    const logs = h.logs.join("\n");
    assert.ok(!logs.includes(minted.token.slice(4)));
  } finally {
    await h.close();
  }
});

Deno.test("touchToken records a delivery with at most one KV write a minute", async (t) => {
  const h = await startHarness();
  const tenant = newTenant();
  try {
    await createConnection(h, tenant);
    const minted = await mint(h, tenant);
    const key = ["webhook_tokens", hashToken(minted.token)];
    const stamp = async () => (await h.kv.get(key)).versionstamp;
    const fresh = (await findToken(h.kv, minted.token))!;

    await t.step("the first delivery of a minute writes lastUsedAt, to the minute", async () => {
      const before = await stamp();
      await touchToken(h.kv, fresh, new Date("2031-05-06T07:08:09.123Z"));
      assert.notEqual(await stamp(), before);
      assert.equal((await findToken(h.kv, minted.token))?.lastUsedAt, "2031-05-06T07:08:00.000Z");
    });

    await t.step("more deliveries in that minute write nothing", async () => {
      const before = await stamp();
      const touched = (await findToken(h.kv, minted.token))!;
      const { kv: counted, counter } = watchReads(h.kv);
      await touchToken(counted, touched, new Date("2031-05-06T07:08:59.999Z"));
      assert.equal(counter.reads, 0, "a record that holds the minute costs not even a read");
      // A replica still holding the record read before the first touch.
      await touchToken(h.kv, fresh, new Date("2031-05-06T07:08:30.000Z"));
      assert.equal(await stamp(), before);
    });

    await t.step("an earlier clock never moves lastUsedAt back", async () => {
      const before = await stamp();
      await touchToken(h.kv, fresh, new Date("2031-05-06T07:07:59.000Z"));
      assert.equal(await stamp(), before);
    });

    await t.step("the next minute writes again, and the list shows it", async () => {
      const before = await stamp();
      await touchToken(h.kv, fresh, new Date("2031-05-06T07:09:00.000Z"));
      assert.notEqual(await stamp(), before);
      const [item] = (await listPage(h, tenant)).items;
      assert.equal(item.lastUsedAt, "2031-05-06T07:09:00.000Z");
    });

    await t.step(
      "a touch that loses a race with a revoke does not bring the token back",
      async () => {
        const raced = await mint(h, tenant);
        const record = (await findToken(h.kv, raced.token))!;
        let revoked = false;
        const { kv: racing } = watchReads(h.kv, async () => {
          revoked ||= await revokeToken(h.kv, tenant, raced.id);
        });
        await touchToken(racing, record, new Date("2031-05-06T07:20:00.000Z"));
        assert.ok(revoked, "the revoke ran between the touch's read and its write");
        assert.equal(await findToken(h.kv, raced.token), undefined);
      },
    );

    await t.step("a touch after a revoke does not bring the token back", async () => {
      assert.ok(await revokeToken(h.kv, tenant, minted.id));
      await touchToken(h.kv, fresh, new Date("2031-05-06T07:30:00.000Z"));
      assert.equal(await findToken(h.kv, minted.token), undefined);
      assert.equal(await tokenKeyCount(h.kv), 0);
    });
  } finally {
    await h.close();
  }
});

Deno.test("the token store", async (t) => {
  const kv = await Deno.openKv(":memory:");
  try {
    await t.step("newTokenValue is mwh_ and 43 base64url characters, fresh each time", () => {
      const values = new Set(Array.from({ length: 100 }, newTokenValue));
      assert.equal(values.size, 100);
      for (const value of values) assert.match(value, TOKEN_FORM);
    });

    await t.step("hashToken is the lowercase hex SHA-256 of the text", () => {
      assert.equal(
        hashToken("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      );
    });

    await t.step("findToken of a malformed token answers undefined without a KV read", async () => {
      const { kv: counted, counter } = watchReads(kv);
      const good = newTokenValue();
      const malformed = [
        "",
        "mwh_",
        good.slice(0, -1),
        good + "A",
        "xyz_" + good.slice(4),
        "MWH_" + good.slice(4),
        good.slice(0, -1) + "=",
        good.slice(0, -1) + "+",
        good.slice(0, -1) + "/",
        ` ${good}`,
        `${good}\n`,
        "a".repeat(10_000),
      ];
      for (const token of malformed) assert.equal(await findToken(counted, token), undefined);
      assert.equal(counter.reads, 0);
      assert.equal(await findToken(counted, good), undefined);
      assert.equal(counter.reads, 1, "a well-formed token is looked up");
    });

    await t.step("storeToken refuses a hash that is already stored", async () => {
      const token = newTokenValue();
      const hash = hashToken(token);
      const first = sampleRecord();
      await storeToken(kv, first, hash);
      await assert.rejects(() => storeToken(kv, sampleRecord(), hash));
      assert.deepEqual(await findToken(kv, token), first);
    });

    await t.step("listTokens pages newest first with limit + 1 and `after`", async () => {
      const tenantId = newTenant();
      const start = Date.now();
      const records = Array.from({ length: 5 }, (_, i) => {
        const at = start + i * 1000;
        return sampleRecord({ tenantId, id: uuidV7(at), createdAt: new Date(at).toISOString() });
      });
      for (const r of records) await storeToken(kv, r, hashToken(newTokenValue()));
      const newestFirst = [...records].reverse();
      assert.deepEqual(await listTokens(kv, tenantId, 2), newestFirst.slice(0, 3));
      assert.deepEqual(
        await listTokens(kv, tenantId, 2, { id: newestFirst[1].id }),
        newestFirst.slice(2, 5),
      );
      assert.deepEqual(await listTokens(kv, tenantId, 2, { id: newestFirst[4].id }), []);
      assert.deepEqual(await listTokens(kv, newTenant(), 2), []);
    });

    await t.step("revokeConnectionTokens revokes only the tenant's tokens of it", async () => {
      const tenantId = newTenant();
      const connectionId = crypto.randomUUID();
      const tokens = [newTokenValue(), newTokenValue(), newTokenValue()];
      for (const token of tokens) {
        await storeToken(kv, sampleRecord({ tenantId, connectionId }), hashToken(token));
      }
      const elsewhere = newTokenValue();
      await storeToken(kv, sampleRecord({ tenantId }), hashToken(elsewhere));

      assert.equal(await revokeConnectionTokens(kv, newTenant(), connectionId), 0);
      for (const token of tokens) assert.notEqual(await findToken(kv, token), undefined);

      assert.equal(await revokeConnectionTokens(kv, tenantId, connectionId), 3);
      for (const token of tokens) assert.equal(await findToken(kv, token), undefined);
      assert.notEqual(await findToken(kv, elsewhere), undefined);
      assert.equal(await revokeConnectionTokens(kv, tenantId, connectionId), 0);
    });
  } finally {
    kv.close();
  }
});

Deno.test("uuidV7 ids are UUIDs that sort in the order of their milliseconds", () => {
  const start = Date.UTC(2030, 0, 1);
  const ids = Array.from({ length: 200 }, (_, i) => uuidV7(start + i * 7919));
  for (const id of ids) {
    assert.ok(isUuid(id), id);
    assert.equal(id[14], "7", "version 7");
    assert.match(id[19], /[89ab]/, "RFC 9562 variant");
  }
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(parseInt(ids[0].replace("-", "").slice(0, 12), 16), start);
  const sameMs = new Set(Array.from({ length: 1000 }, () => uuidV7(start)));
  assert.equal(sameMs.size, 1000, "ids of one millisecond still differ");
  assert.ok([...sameMs].every((id) => id.startsWith(ids[0].slice(0, 13))));
});
