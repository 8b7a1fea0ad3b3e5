// Seeds the rows the fuzzer aims at: connections of both vendors, webhook tokens, pulls, cursors.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { type FakeBelvo, startFakeBelvo } from "../fakes/belvo.ts";
import type { FakePluggy } from "../fakes/pluggy.ts";
import type { Json } from "./vendor_calls.ts";
import type { CoreConnection, FuzzState } from "./fuzz_requests.ts";
import { buildTestApp, type HarnessOptions, newTenant } from "./harness.ts";
import { type Wired, wirePluggy } from "./pulls.ts";
import { waitFor } from "./service.ts";

const API = "/v1/discovery";

export interface Seeded {
  w: Wired<FakePluggy>;
  belvo: FakeBelvo;
  state: FuzzState;
  /**
   * Another replica on the same database and KV whose every rate limit is 1 a minute: requests
   * sent there meet the tenant's (or the token's) used-up quota, so each limited operation's 429
   * is in the fuzzer's reach.
   */
  throttled: { baseUrl: string };
  close(): Promise<void>;
}

/** Every limit on, and far above what the run sends: answers carry the RateLimit fields. */
const limitsOn = (perMinute: number): HarnessOptions["rateLimits"] => ({
  perTenant: { reads: perMinute, writes: perMinute, liveTests: perMinute, pulls: perMinute },
  perWebhookToken: perMinute,
});

/** Starts the app wired to both fakes and seeds it; `metricsToken` turns /metrics on. */
export async function seedFuzzState(metricsToken: string): Promise<Seeded> {
  const belvo = await startFakeBelvo();
  const options = (fake: FakePluggy): HarnessOptions => ({
    egress: { allowHosts: [fake.host, belvo.host], allowHttp: true },
    metricsToken,
    devSignIn: true,
    // Low enough that the run meets the limit (429), and a webhook's pull stays queued for the
    // whole run, so that retrying it is a 409.
    connectionTestsPerMinute: 5,
    pulls: { webhookDelayMs: 3_600_000 },
    // A repeat of a request still running answers 409 at once instead of waiting.
    idempotencyWaitMs: 20,
    rateLimits: limitsOn(1_000_000),
  });
  const w = await wirePluggy({}, options);
  const throttled = await buildTestApp(w.h.sql, w.h.kv, {
    ...options(w.fake),
    secret: w.h.secret,
    sealKeys: w.h.sealKeys,
    rateLimits: limitsOn(1),
    pulls: { webhookDelayMs: 3_600_000, wake: false },
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => throttled.fetch(request),
  );
  try {
    const state = await seed(w, belvo, metricsToken);
    return {
      w,
      belvo,
      state,
      throttled: { baseUrl: `http://127.0.0.1:${server.addr.port}` },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
  async function close() {
    await server.shutdown();
    await throttled.closeLimits();
    await throttled.pool.stop();
    await w.close();
    await belvo.close();
  }
}

async function seed(w: Wired<FakePluggy>, belvo: FakeBelvo, metricsToken: string) {
  const { h, tenant } = w;
  const call = async (path: string, init: RequestInit & { json?: unknown }, as = tenant) => {
    const res = await h.request(`${API}${path}`, { tenant: as, ...init });
    return { status: res.status, body: res.status === 204 ? null : await res.json() as Json };
  };
  const created = async (json: unknown, as = tenant) => {
    const res = await call("/aggregator-connections", { method: "POST", json }, as);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const mint = async (vendor: string, name: string, as = tenant, withHeaderSecret = false) => {
    const res = await call("/webhooks/tokens", {
      method: "POST",
      json: { vendor, connection_config_name: name, withHeaderSecret },
    }, as);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; token: string; header?: { name: string; value: string } };
  };
  const pullTo = async (connectionId: string, as = tenant) => {
    const res = await call(`/aggregator-connections/${connectionId}/pulls`, { method: "POST" }, as);
    assert.equal(res.status, 202);
    for (let i = 0; i < 400; i++) {
      const pull = await call(`/pulls/${res.body.id}`, {}, as);
      if (["succeeded", "failed", "dead"].includes(pull.body.status)) return res.body.id as string;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error("the seeded pull did not finish");
  };

  const pluggyCore: CoreConnection = {
    id: w.connectionId,
    vendor: "pluggy",
    configName: "pluggy-main",
    baseUrl: w.fake.url,
    accountRef: w.accountRef,
    clientId: "fake-client-id",
    secret: "fake-client-secret",
  };
  const belvoFields = {
    vendor: "belvo" as const,
    configName: "belvo-main",
    baseUrl: belvo.url,
    accountRef: belvo.links[0].id,
    clientId: "fake-secret-id",
    secret: "fake-secret-password",
  };
  const belvoCore: CoreConnection = { id: await created(belvoFields), ...belvoFields };
  const belvoToken = await mint("belvo", "belvo-main");
  // Tokens with a second factor: deliveries with, without and with a wrong header secret.
  const guarded = [
    await mint("pluggy", "pluggy-main", tenant, true),
    await mint("belvo", "belvo-main", tenant, true),
  ];

  const disposable: string[] = [];
  for (let i = 0; i < 40; i++) {
    disposable.push(await created({ ...belvoFields, configName: `disposable-${i}` }));
  }
  const tokens = [];
  for (let i = 0; i < 40; i++) {
    const vendor = i % 2 ? "belvo" : "pluggy";
    tokens.push(await mint(vendor, `${vendor}-main`));
  }
  // Tokens of a deleted connection, and revoked ones.
  const doomed = await mint("belvo", "disposable-0");
  assert.equal(
    (await call(`/aggregator-connections/${disposable[0]}`, { method: "DELETE" })).status,
    204,
  );
  assert.equal((await call(`/webhooks/tokens/${tokens[0].id}`, { method: "DELETE" })).status, 204);

  // A pull no request of the run can start or finish: queued by a webhook, due in an hour.
  await created({ ...belvoFields, configName: "parked" });
  const parked = await mint("belvo", "parked");
  const receipt = await belvo.sendWebhook(
    w.h.baseUrl + `${API}/webhooks/belvo/${parked.token}`,
    belvo.webhooks.newTransactionsAvailable({ linkId: belvoFields.accountRef, count: 1 }),
  );
  assert.equal(receipt.status, 202);
  const queuedPull = (await receipt.json()).pullId as string;

  const pulls = [
    queuedPull,
    await pullTo(pluggyCore.id),
    await pullTo(pluggyCore.id),
    await pullTo(belvoCore.id),
    await pullTo(belvoCore.id),
  ];

  const other = newTenant();
  const foreignConnection = await created({ ...belvoFields, configName: "foreign" }, other);
  const foreignToken = await mint("belvo", "foreign", other);
  const foreignPull = await pullTo(foreignConnection, other);

  const cursors: string[] = [];
  for (
    const path of [
      "/aggregator-connections?limit=1",
      "/webhooks/tokens?limit=2",
      `/aggregator-connections/${pluggyCore.id}/pulls?limit=1`,
      `/aggregator-connections/${pluggyCore.id}/transactions?limit=3`,
      `/aggregator-connections/${belvoCore.id}/transactions?limit=5`,
      "/audit-events?limit=2",
    ]
  ) {
    const page = await call(path, {});
    assert.equal(page.status, 200);
    assert.ok(page.body.nextCursor, `${path} has a second page`);
    cursors.push(page.body.nextCursor);
  }

  // The feed shows a change once every transaction on the server that began before it has ended:
  // with other work on the server, the pulls' last changes can take a moment to show.
  const feed = await waitFor("the change feed's second page", async () => {
    const page = await call("/transactions/changes?limit=3", {});
    assert.equal(page.status, 200);
    return page.body.nextCursor ? page : undefined;
  });
  const feedCursors = [feed.body.nextCursor, feed.body.items[0].cursor];

  const account = w.fake.items[0].accounts[0].id;
  const state: FuzzState = {
    core: [pluggyCore, belvoCore],
    disposable: disposable.slice(1),
    foreign: [foreignConnection, foreignToken.id, foreignPull],
    pulls,
    tokenIds: tokens.slice(1, 30).map((t) => t.id),
    rawTokens: {
      pluggy: [
        w.token,
        doomed.token,
        guarded[0].token,
        ...tokens.filter((_, i) => i % 2 === 0).map((t) => t.token),
      ],
      belvo: [
        belvoToken.token,
        foreignToken.token,
        guarded[1].token,
        ...tokens.filter((_, i) => i % 2).map((t) => t.token),
      ],
    },
    headerSecrets: new Map(guarded.map((t) => [t.token, t.header!])),
    cursors,
    feedCursors,
    auditTargets: [pluggyCore.id, belvoCore.id, ...pulls, ...tokens.map((t) => t.id)],
    accountIds: [
      ...w.fake.items[0].accounts.map((a) => a.id),
      ...belvo.links[0].accounts.map((a) => a.id),
    ],
    baseUrls: [
      w.fake.url,
      belvo.url,
      "https://api.pluggy.ai",
      "https://sandbox.belvo.com",
      "http://api.pluggy.ai",
      "https://169.254.169.254/latest",
      "https://user:pw@api.pluggy.ai",
      "https://api.pluggy.ai/?q=1",
      "ftp://api.pluggy.ai",
      "not a url",
    ],
    bearer: {
      valid: `Bearer ${await h.token(tenant)}`,
      other: `Bearer ${await h.token(other)}`,
      broken: await brokenBearers(w, tenant),
    },
    metricsToken,
    webhookPayload: {
      pluggy: () =>
        w.fake.webhooks.transactionsCreated({
          itemId: w.accountRef,
          accountId: account,
          transactionsCreatedAtFrom: new Date(Date.now() - 60_000),
        }),
      belvo: () =>
        belvo.webhooks.newTransactionsAvailable({ linkId: belvoCore.accountRef, count: 1 }),
    },
  };
  return state;
}

/** Authorization values that must all answer 401. */
async function brokenBearers(w: Wired<FakePluggy>, tenant: string): Promise<string[]> {
  const valid = await w.h.token(tenant);
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: unknown) => btoa(JSON.stringify(o)).replaceAll("=", "");
  const wrongKey = await new SignJWT({ tenant_id: tenant })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime("10m")
    .sign(crypto.getRandomValues(new Uint8Array(32)));
  return [
    `Bearer ${await w.h.token(tenant, { exp: now - 3600 })}`,
    `Bearer ${await w.h.token(tenant, { nbf: now + 3600 })}`,
    `Bearer ${await w.h.token(tenant, { tenant_id: "not-a-uuid" })}`,
    `Bearer ${await w.h.token(tenant, { tenant_id: 42 })}`,
    `Bearer ${await w.h.token("")}`,
    `Bearer ${wrongKey}`,
    `Bearer ${b64({ alg: "none" })}.${b64({ tenant_id: tenant, exp: now + 600 })}.`,
    `Bearer ${valid.slice(0, -3)}abc`,
    `Bearer ${valid}x`,
    `Basic ${btoa("user:pass")}`,
    "Bearer",
    "Bearer ",
    `Bearer ${"a".repeat(10_000)}`,
    "Bearer garbage",
    "Bearer \u00e9t\u00e9",
    valid,
  ];
}
