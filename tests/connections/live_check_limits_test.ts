// The live test under attack: a credential that cannot be opened, and limits that a delete and
// re-create of the same connection, or many connections, do not reset.
import assert from "node:assert/strict";
import { sealCredential } from "../../src/connections/credential.ts";
import { createKeyRing } from "../../src/crypto/seal.ts";
import { type FakePluggy, startFakePluggy } from "../fakes/pluggy.ts";
import {
  type Harness,
  type HarnessOptions,
  newTenant,
  randomKey,
  startHarness,
} from "../support/harness.ts";

const TEST = "/v1/discovery/aggregator-connections/test";
const CONNECTIONS = "/v1/discovery/aggregator-connections";

interface Setup {
  fake: FakePluggy;
  h: Harness;
  tenant: string;
  /** Creates a connection of the tenant on the fake; answers its id. */
  create(configName: string, tenant?: string): Promise<string>;
  remove(id: string): Promise<void>;
  /** Tests the named connection; answers the status, the body and Retry-After. */
  test(
    configName: string,
    tenant?: string,
  ): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }>;
  close(): Promise<void>;
}

async function setup(options: HarnessOptions = {}): Promise<Setup> {
  const fake = await startFakePluggy();
  const h = await startHarness({
    egress: { allowHosts: [fake.host], allowHttp: true },
    ...options,
  });
  const tenant = newTenant();
  return {
    fake,
    h,
    tenant,
    async create(configName, as = tenant) {
      const res = await h.request(CONNECTIONS, {
        method: "POST",
        tenant: as,
        json: {
          vendor: "pluggy",
          configName,
          baseUrl: fake.url,
          accountRef: fake.items[0].id,
          clientId: "fake-client-id",
          secret: "fake-client-secret",
        },
      });
      assert.equal(res.status, 201);
      return (await res.json()).id;
    },
    async remove(id) {
      const res = await h.request(`${CONNECTIONS}/${id}`, { method: "DELETE", tenant });
      assert.equal(res.status, 204);
    },
    async test(configName, as = tenant) {
      const res = await h.request(TEST, {
        method: "POST",
        tenant: as,
        json: { vendor: "pluggy", configName },
      });
      return {
        status: res.status,
        body: await res.json(),
        retryAfter: res.headers.get("Retry-After"),
      };
    },
    async close() {
      await h.close();
      await fake.close();
    },
  };
}

Deno.test("a credential that cannot be opened is healthy: false, credential_unreadable, and spends no test", async (t) => {
  const s = await setup();
  try {
    const id = await s.create("pluggy-main");
    const otherId = await s.create("pluggy-other");
    const blobOf = async (rowId: string) => {
      const [row] = await s.h.sql`select sealed_credential from connections where id = ${rowId}`;
      return new Uint8Array(row.sealed_credential);
    };
    const good = await blobOf(id);
    const corrupted = good.slice();
    corrupted[corrupted.length - 1] ^= 0xff;
    const retiredRing = await createKeyRing([{ id: "k-retired", key: randomKey() }]);
    const retired = await sealCredential(retiredRing, {
      tenantId: s.tenant,
      connectionId: id,
      vendor: "pluggy",
    }, { clientId: "fake-client-id", secret: "fake-client-secret" });
    const blobs: Array<[string, Uint8Array]> = [
      ["a blob sealed for another row", await blobOf(otherId)],
      ["a corrupted blob", corrupted],
      ["a blob sealed under a retired key", retired],
      ["bytes that are no sealed blob at all", new Uint8Array([1, 2, 3])],
    ];
    s.fake.resetRequests();
    for (const [name, blob] of blobs) {
      await t.step(name, async () => {
        await s.h.sql`update connections set sealed_credential = ${blob} where id = ${id}`;
        // More tries than the per-connection limit allows: none of them spent a slot.
        for (let i = 0; i < 12; i++) {
          const { status, body } = await s.test("pluggy-main");
          assert.equal(status, 200, JSON.stringify(body));
          delete body.latencyMs;
          assert.deepEqual(body, {
            vendor: "pluggy",
            configName: "pluggy-main",
            healthy: false,
            reason: "credential_unreadable",
          });
        }
      });
    }
    assert.deepEqual(s.fake.requests, [], "no vendor call without a credential");
    await t.step(
      "with its credential back, the connection tests healthy, its limit whole",
      async () => {
        await s.h.sql`update connections set sealed_credential = ${good} where id = ${id}`;
        for (let i = 0; i < 10; i++) assert.equal((await s.test("pluggy-main")).body.healthy, true);
        assert.equal((await s.test("pluggy-main")).status, 429);
      },
    );
    assert.ok(!s.h.logs.join("\n").includes("fake-client-secret"));
  } finally {
    await s.close();
  }
});

Deno.test("deleting and re-creating a connection does not reset the tenant's live-test limit", async () => {
  let clock = Date.UTC(2026, 10, 28, 12, 0, 0);
  const s = await setup({
    now: () => clock,
    connectionTestsPerMinute: 10,
    connectionTestsPerTenantPerMinute: 15,
  });
  try {
    let id = await s.create("pluggy-main");
    for (let i = 0; i < 10; i++) assert.equal((await s.test("pluggy-main")).status, 200);
    const perConnection = await s.test("pluggy-main");
    assert.equal(perConnection.status, 429);
    assert.equal(perConnection.body.code, "MTCH-1429");

    // The same name again: a new connection, with its own per-connection allowance, but the
    // tenant's count goes on: 5 of its 15 are left.
    await s.remove(id);
    id = await s.create("pluggy-main");
    clock += 1_000;
    for (let i = 0; i < 5; i++) assert.equal((await s.test("pluggy-main")).status, 200);
    const calls = s.fake.requests.length;
    const perTenant = await s.test("pluggy-main");
    assert.equal(perTenant.status, 429);
    assert.equal(perTenant.body.code, "MTCH-1429");
    assert.match(String(perTenant.body.message), /tenant/);
    assert.equal(perTenant.retryAfter, "59", "the tenant's oldest test leaves the window first");
    assert.equal(s.fake.requests.length, calls, "a limited test does not call the vendor");

    // Another connection of the tenant shares its count; another tenant has its own.
    await s.create("pluggy-second");
    assert.equal((await s.test("pluggy-second")).status, 429);
    const other = newTenant();
    await s.create("pluggy-main", other);
    assert.equal((await s.test("pluggy-main", other)).status, 200);

    // A minute after the first tests, the tenant may test again.
    clock += 59_000;
    assert.equal((await s.test("pluggy-second")).status, 200);
  } finally {
    await s.close();
  }
});
