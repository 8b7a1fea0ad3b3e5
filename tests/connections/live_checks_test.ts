// POST /v1/discovery/aggregator-connections/test: healthy, every unhealthy reason, 404, 400, 429.
import assert from "node:assert/strict";
import { startFakeBelvo } from "../fakes/belvo.ts";
import { startFakePluggy } from "../fakes/pluggy.ts";
import { newTenant, startHarness } from "../support/harness.ts";

const TEST = "/v1/discovery/aggregator-connections/test";
const PLUGGY_SECRET = "pluggy-secret-canary-7f3a";
const PLUGGY_BODY = {
  vendor: "pluggy",
  configName: "pluggy-main",
  baseUrl: "https://api.pluggy.ai",
  accountRef: "item-1",
  clientId: "pluggy-id",
};

async function setup(now?: () => number) {
  const pluggy = await startFakePluggy({
    clients: [{ clientId: "pluggy-id", clientSecret: PLUGGY_SECRET }],
  });
  const belvo = await startFakeBelvo();
  const h = await startHarness({
    egress: { allowHosts: [pluggy.host, belvo.host], allowHttp: true },
    vendorHttp: { connectTimeoutMs: 300, timeoutMs: 600 },
    now,
  });
  const tenant = newTenant();
  const create = async (body: Record<string, unknown>) => {
    const res = await h.request("/v1/discovery/aggregator-connections", {
      method: "POST",
      tenant,
      json: body,
    });
    assert.equal(res.status, 201);
    return await res.json();
  };
  await create({
    ...PLUGGY_BODY,
    baseUrl: pluggy.url,
    accountRef: pluggy.items[0].id,
    secret: PLUGGY_SECRET,
  });
  await create({
    vendor: "belvo",
    configName: "belvo-main",
    baseUrl: belvo.url,
    accountRef: belvo.links[0].id,
    clientId: "fake-secret-id",
    secret: "fake-secret-password",
  });
  const test = (body: unknown, as = tenant) =>
    h.request(TEST, { method: "POST", tenant: as, json: body });
  return {
    pluggy,
    belvo,
    h,
    tenant,
    create,
    test,
    async close() {
      await h.close();
      await pluggy.close();
      await belvo.close();
    },
  };
}

async function outcome(res: Response) {
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(typeof body.latencyMs, "number");
  assert.ok(body.latencyMs >= 0);
  delete body.latencyMs;
  return body;
}

Deno.test("testing a healthy connection of each vendor", async (t) => {
  const s = await setup();
  try {
    await t.step("pluggy: POST /auth then GET /items/{accountRef}", async () => {
      assert.deepEqual(
        await outcome(await s.test({ vendor: "pluggy", configName: "pluggy-main" })),
        {
          vendor: "pluggy",
          configName: "pluggy-main",
          healthy: true,
        },
      );
      assert.deepEqual(s.pluggy.requests.map((r) => `${r.method} ${r.path}`), [
        "POST /auth",
        `GET /items/${s.pluggy.items[0].id}`,
      ]);
    });
    await t.step("belvo: GET /api/links/{accountRef}/", async () => {
      assert.deepEqual(await outcome(await s.test({ vendor: "belvo", configName: "belvo-main" })), {
        vendor: "belvo",
        configName: "belvo-main",
        healthy: true,
      });
      assert.deepEqual(s.belvo.requests.map((r) => `${r.method} ${r.path}`), [
        `GET /api/links/${s.belvo.links[0].id}/`,
      ]);
    });
    await t.step("surrounding white space in configName is ignored, as at create", async () => {
      const body = await outcome(await s.test({ vendor: "belvo", configName: " belvo-main " }));
      assert.equal(body.healthy, true);
    });
  } finally {
    await s.close();
  }
});

Deno.test("each unhealthy outcome is a 200 with a reason from the fixed list", async (t) => {
  const s = await setup();
  const pluggy = { vendor: "pluggy", configName: "pluggy-main" };
  const items = `/items/${s.pluggy.items[0].id}`;
  const expectReason = async (body: unknown, reason: string) => {
    const got = await outcome(await s.test(body));
    assert.equal(got.healthy, false);
    assert.equal(got.reason, reason);
  };
  try {
    await t.step("credentials_rejected", async () => {
      s.pluggy.faults.add({ path: "/auth", fault: { status: 401 } });
      await expectReason(pluggy, "credentials_rejected");
    });
    await t.step("account_not_found", async () => {
      s.pluggy.faults.add({ path: items, fault: { status: 404 } });
      await expectReason(pluggy, "account_not_found");
    });
    await t.step("vendor_unreachable on a 5xx", async () => {
      s.pluggy.faults.add({ path: items, fault: { status: 502 } });
      await expectReason(pluggy, "vendor_unreachable");
    });
    await t.step("timeout", async () => {
      s.pluggy.faults.add({ path: items, fault: { delayMs: 1_500 } });
      await expectReason(pluggy, "timeout");
    });
    await t.step("rate_limited", async () => {
      s.pluggy.faults.add({ path: items, fault: { status: 429 } });
      await expectReason(pluggy, "rate_limited");
    });
    await t.step("unexpected_response", async () => {
      s.pluggy.faults.add({ path: items, fault: { malformed: true } });
      await expectReason(pluggy, "unexpected_response");
    });
    await t.step("belvo credentials_rejected and account_not_found", async () => {
      const belvo = { vendor: "belvo", configName: "belvo-main" };
      const link = `/api/links/${s.belvo.links[0].id}/`;
      s.belvo.faults.add({ path: link, fault: { status: 401 } });
      await expectReason(belvo, "credentials_rejected");
      s.belvo.faults.add({ path: link, fault: { status: 404 } });
      await expectReason(belvo, "account_not_found");
    });
    await t.step("vendor_unreachable when nothing listens at the base URL", async () => {
      await s.pluggy.close();
      await expectReason(pluggy, "vendor_unreachable");
    });
    await t.step("the vendor's own words and the secret appear in no answer or log", () => {
      const logs = s.h.logs.join("\n");
      assert.ok(!logs.includes(PLUGGY_SECRET));
      assert.ok(!logs.includes("Client keys are invalid"));
      assert.ok(!logs.includes("Invalid Secret Keys"));
      assert.match(logs, /connection test failed/);
    });
  } finally {
    await s.close();
  }
});

Deno.test("testing a connection that is not there, or asked for wrongly", async (t) => {
  const s = await setup();
  const expectStatus = async (res: Response, status: number, code: string) => {
    assert.equal(res.status, status);
    assert.equal((await res.json()).code, code);
  };
  try {
    await t.step("an unknown configName is 404", async () => {
      await expectStatus(await s.test({ vendor: "pluggy", configName: "nope" }), 404, "MTCH-2404");
    });
    await t.step("the right name under the other vendor is 404", async () => {
      await expectStatus(
        await s.test({ vendor: "belvo", configName: "pluggy-main" }),
        404,
        "MTCH-2404",
      );
    });
    await t.step("another tenant's connection is 404", async () => {
      await expectStatus(
        await s.test({ vendor: "pluggy", configName: "pluggy-main" }, newTenant()),
        404,
        "MTCH-2404",
      );
    });
    await t.step("a deleted connection is 404", async () => {
      const c = await s.create({
        vendor: "pluggy",
        configName: "short-lived",
        baseUrl: s.pluggy.url,
        accountRef: "x",
        clientId: "a",
        secret: "b",
      });
      const del = await s.h.request(`/v1/discovery/aggregator-connections/${c.id}`, {
        method: "DELETE",
        tenant: s.tenant,
      });
      assert.equal(del.status, 204);
      await expectStatus(
        await s.test({ vendor: "pluggy", configName: "short-lived" }),
        404,
        "MTCH-2404",
      );
    });
    await t.step("an invalid vendor is 400", async () => {
      await expectStatus(
        await s.test({ vendor: "plaid", configName: "pluggy-main" }),
        400,
        "MTCH-1001",
      );
    });
    await t.step("a missing configName or an extra field is 400", async () => {
      await expectStatus(await s.test({ vendor: "pluggy" }), 400, "MTCH-1001");
      await expectStatus(
        await s.test({ vendor: "pluggy", configName: "pluggy-main", secret: "x" }),
        400,
        "MTCH-1001",
      );
    });
    await t.step("no token is 401", async () => {
      const res = await s.h.request(TEST, {
        method: "POST",
        json: { vendor: "pluggy", configName: "x" },
      });
      await expectStatus(res, 401, "MTCH-1401");
    });
    assert.ok(s.pluggy.requests.every((r) => r.path !== "/items/x"));
  } finally {
    await s.close();
  }
});

Deno.test("a connection can be tested 10 times a minute, then 429 with Retry-After", async () => {
  let clock = Date.UTC(2026, 10, 28, 12, 0, 0);
  const s = await setup(() => clock);
  const pluggy = { vendor: "pluggy", configName: "pluggy-main" };
  try {
    for (let i = 0; i < 10; i++) {
      assert.equal((await outcome(await s.test(pluggy))).healthy, true);
      clock += 1_000;
    }
    const calls = s.pluggy.requests.length;
    const limited = await s.test(pluggy);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("Retry-After"), "50");
    assert.equal((await limited.json()).code, "MTCH-1429");
    assert.equal(s.pluggy.requests.length, calls, "a limited test must not call the vendor");

    // Another connection has its own allowance.
    assert.equal(
      (await outcome(await s.test({ vendor: "belvo", configName: "belvo-main" }))).healthy,
      true,
    );

    clock += 50_000; // the first test leaves the window
    assert.equal((await outcome(await s.test(pluggy))).healthy, true);
    assert.equal((await s.test(pluggy)).status, 429);
  } finally {
    await s.close();
  }
});

Deno.test("concurrent tests never exceed the limit", async () => {
  const s = await setup();
  try {
    const answers = await Promise.all(
      Array.from({ length: 15 }, () => s.test({ vendor: "belvo", configName: "belvo-main" })),
    );
    const statuses = answers.map((r) => r.status);
    await Promise.all(answers.map((r) => r.body?.cancel()));
    assert.equal(statuses.filter((s) => s === 200).length, 10);
    assert.equal(statuses.filter((s) => s === 429).length, 5);
  } finally {
    await s.close();
  }
});

Deno.test("a failure that is not the vendor's is a detail-free 500, not an unhealthy result", async () => {
  const h = await startHarness({
    aggregators: {
      client: () => ({
        vendor: "pluggy",
        check: () => Promise.reject(new TypeError("bug with internals: secret-in-message")),
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
    const created = await h.request("/v1/discovery/aggregator-connections", {
      method: "POST",
      tenant,
      json: { ...PLUGGY_BODY, secret: PLUGGY_SECRET },
    });
    assert.equal(created.status, 201);
    const res = await h.request(TEST, {
      method: "POST",
      tenant,
      json: { vendor: "pluggy", configName: "pluggy-main" },
    });
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), {
      code: "MTCH-9500",
      title: "Internal Server Error",
      message: "An unexpected error occurred.",
    });
    assert.ok(!h.logs.join("\n").includes(PLUGGY_SECRET));
  } finally {
    await h.close();
  }
});
