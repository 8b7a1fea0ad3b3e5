// The live service driven through the TypeScript client generated from openapi.yaml: if the spec,
// the client and the server drift apart, these calls stop compiling or stop passing.
import assert from "node:assert/strict";
import {
  type components,
  createMatcherClient,
  MatcherApiError,
  type MatcherClient,
  type MatcherError,
  readRateLimit,
} from "../../clients/typescript/client.ts";
import { unsealCredential } from "../../src/connections/credential.ts";
import { createKeyRing } from "../../src/crypto/seal.ts";
import { type FakePluggy, startFakePluggy } from "../fakes/pluggy.ts";
import { type Harness, type HarnessOptions, newTenant, startHarness } from "../support/harness.ts";

type Schemas = components["schemas"];
type Connection = Schemas["AggregatorConnection"];
type CreateBody = Schemas["CreateAggregatorConnectionRequest"];
type Pull = Schemas["Pull"];

/** Compile-time check that each type is assignable to the other; `expectType<...>(true)` fails to
 * compile when they differ. */
type Equals<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function expectType<T extends true>(_: T): void {}

const CONNECTIONS = "/v1/discovery/aggregator-connections";
const BY_ID = "/v1/discovery/aggregator-connections/{id}";
const TOKENS = "/v1/discovery/webhooks/tokens";
const TOKEN_BY_ID = "/v1/discovery/webhooks/tokens/{tokenId}";
const PULLS = "/v1/discovery/aggregator-connections/{id}/pulls";
const PULL_BY_ID = "/v1/discovery/pulls/{pullId}";
const TRANSACTIONS = "/v1/discovery/aggregator-connections/{id}/transactions";

interface Session {
  h: Harness;
  tenant: string;
  client: MatcherClient;
}

/** Starts the service on a fresh database and hands a client for a fresh tenant to `use`. */
async function withClient(
  use: (session: Session) => Promise<void>,
  options: HarnessOptions = {},
): Promise<void> {
  const h = await startHarness(options);
  try {
    const tenant = newTenant();
    const client = createMatcherClient({ baseUrl: h.baseUrl, token: () => h.token(tenant) });
    await use({ h, tenant, client });
  } finally {
    await h.close();
  }
}

function pluggy(overrides: Partial<CreateBody> = {}): CreateBody {
  return {
    vendor: "pluggy",
    configName: "pluggy-main",
    baseUrl: "https://api.pluggy.ai",
    accountRef: "item-1",
    clientId: "sdk-client-id",
    secret: "sdk-client-secret",
    ...overrides,
  };
}

/** Creates a connection through the client and answers its descriptor. */
async function create(client: MatcherClient, body: CreateBody): Promise<Connection> {
  const { data, error, response } = await client.POST(CONNECTIONS, { body });
  assert.equal(response.status, 201, JSON.stringify(error));
  assert.ok(data);
  return data;
}

/** Runs `use` against a service whose connections may reach a fresh fake Pluggy over http. */
async function withFakePluggy(
  use: (session: Session & { fake: FakePluggy }) => Promise<void>,
): Promise<void> {
  const fake = await startFakePluggy();
  try {
    await withClient((session) => use({ ...session, fake }), {
      egress: { allowHosts: [fake.host], allowHttp: true },
    });
  } finally {
    await fake.close();
  }
}

/** A connection to the fake's first item, with the fake's credential. */
function toFake(fake: FakePluggy): CreateBody {
  return pluggy({
    baseUrl: fake.url,
    accountRef: fake.items[0].id,
    clientId: "fake-client-id",
    secret: "fake-client-secret",
  });
}

/** Asks for the pull until it has finished, and answers it. */
async function settled(client: MatcherClient, pullId: string): Promise<Pull> {
  for (let i = 0; i < 200; i++) {
    const { data } = await client.GET(PULL_BY_ID, { params: { path: { pullId } } });
    assert.ok(data);
    if (!["queued", "running", "retrying"].includes(data.status)) return data;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`pull ${pullId} did not finish`);
}

async function sealedCredential(h: Harness, id: string): Promise<Uint8Array<ArrayBuffer>> {
  const [row] = await h.sql`select sealed_credential from connections where id = ${id}`;
  return new Uint8Array(row.sealed_credential);
}

// Aggregator connections

Deno.test("create answers the typed, secret-free descriptor", async () => {
  await withClient(async ({ client }) => {
    const { data, error, response } = await client.POST(CONNECTIONS, { body: pluggy() });
    expectType<Equals<typeof data, Connection | undefined>>(true);
    expectType<Equals<typeof error, MatcherError | undefined>>(true);
    assert.equal(response.status, 201);
    assert.equal(error, undefined);
    assert.ok(data);
    assert.deepEqual(Object.keys(data).sort(), [
      "accountRef",
      "baseUrl",
      "configName",
      "createdAt",
      "id",
      "updatedAt",
      "vendor",
    ]);
    assert.equal(data.vendor, "pluggy");
    assert.equal(data.configName, "pluggy-main");
    assert.ok(!JSON.stringify(data).includes("sdk-client-secret"));
  });
});

Deno.test("list walks two pages through nextCursor, newest first", async () => {
  await withClient(async ({ client }) => {
    const created: string[] = [];
    for (const n of [1, 2, 3]) {
      created.push((await create(client, pluggy({ configName: `c-${n}` }))).id);
    }

    const first = await client.GET(CONNECTIONS, { params: { query: { limit: 2 } } });
    assert.equal(first.response.status, 200);
    assert.ok(first.data);
    assert.equal(first.data.limit, 2);
    assert.equal(first.data.hasMore, true);
    assert.ok(first.data.nextCursor);
    assert.deepEqual(first.data.items.map((c) => c.configName), ["c-3", "c-2"]);

    const second = await client.GET(CONNECTIONS, {
      params: { query: { limit: 2, cursor: first.data.nextCursor } },
    });
    assert.ok(second.data);
    assert.equal(second.data.hasMore, false);
    assert.equal(second.data.nextCursor, null);
    assert.deepEqual(second.data.items.map((c) => c.configName), ["c-1"]);
    const seen = [...first.data.items, ...second.data.items].map((c) => c.id);
    assert.deepEqual(seen.sort(), created.sort());
  });
});

Deno.test("get answers what create answered", async () => {
  await withClient(async ({ client }) => {
    const created = await create(client, pluggy());
    const { data, response } = await client.GET(BY_ID, { params: { path: { id: created.id } } });
    assert.equal(response.status, 200);
    assert.deepEqual(data, created);
  });
});

Deno.test("update changes the fields and keeps the credential unless both parts are sent", async () => {
  await withClient(async ({ h, tenant, client }) => {
    const created = await create(client, pluggy());
    const path = { id: created.id };
    const original = await sealedCredential(h, created.id);

    const fixed = await client.PUT(BY_ID, {
      params: { path },
      body: {
        configName: "pluggy-renamed",
        baseUrl: "https://api.pluggy.ai",
        accountRef: "item-2",
      },
    });
    assert.equal(fixed.response.status, 200);
    assert.equal(fixed.data?.configName, "pluggy-renamed");
    assert.equal(fixed.data?.accountRef, "item-2");
    assert.equal(fixed.data?.id, created.id);
    assert.deepEqual(await sealedCredential(h, created.id), original, "the credential is kept");

    const rotated = await client.PUT(BY_ID, {
      params: { path },
      body: {
        configName: "pluggy-renamed",
        baseUrl: "https://api.pluggy.ai",
        accountRef: "item-2",
        clientId: "rotated-client-id",
        secret: "rotated-client-secret",
      },
    });
    assert.equal(rotated.response.status, 200);
    assert.ok(!JSON.stringify(rotated.data).includes("rotated-client-secret"));
    const ring = await createKeyRing(h.sealKeys);
    const context = { tenantId: tenant, connectionId: created.id, vendor: "pluggy" };
    assert.deepEqual(
      await unsealCredential(ring, context, await sealedCredential(h, created.id)),
      { clientId: "rotated-client-id", secret: "rotated-client-secret" },
    );
  });
});

Deno.test("delete answers 204, after which the id is a 404 and the config name is free", async () => {
  await withClient(async ({ client }) => {
    const created = await create(client, pluggy());
    const path = { id: created.id };
    const deleted = await client.DELETE(BY_ID, { params: { path } });
    assert.equal(deleted.response.status, 204);
    assert.equal(deleted.error, undefined);

    const gone = await client.GET(BY_ID, { params: { path } });
    assert.equal(gone.response.status, 404);
    assert.equal(gone.error?.code, "MTCH-2404");
    await create(client, pluggy());
  });
});

// Webhook tokens, webhooks, pulls and transactions

Deno.test("a token is minted once, listed without its value, and revoked with 204 then a typed 404", async () => {
  await withClient(async ({ client }) => {
    await create(client, pluggy());
    const body = { vendor: "pluggy", connection_config_name: "pluggy-main" } as const;
    const minted = await client.POST(TOKENS, { body });
    expectType<Equals<typeof minted.data, Schemas["MintedWebhookToken"] | undefined>>(true);
    assert.equal(minted.response.status, 201);
    assert.ok(minted.data);
    assert.match(minted.data.token, /^mwh_[\w-]{43}$/);
    assert.ok(
      minted.data.webhookUrl.endsWith(`/v1/discovery/webhooks/pluggy/${minted.data.token}`),
    );
    const second = await client.POST(TOKENS, { body });
    assert.ok(second.data);

    const list = await client.GET(TOKENS, { params: { query: { limit: 10 } } });
    expectType<Equals<typeof list.data, Schemas["WebhookTokenPage"] | undefined>>(true);
    assert.deepEqual(list.data?.items.map((t) => t.id), [second.data.id, minted.data.id]);
    assert.equal(list.data?.items[0].configName, "pluggy-main");
    assert.equal(list.data?.items[0].lastUsedAt, null);
    assert.ok(!JSON.stringify(list.data).includes(minted.data.token), "never the token again");

    const path = { tokenId: minted.data.id };
    const revoked = await client.DELETE(TOKEN_BY_ID, { params: { path } });
    assert.equal(revoked.response.status, 204);
    const again = await client.DELETE(TOKEN_BY_ID, { params: { path } });
    assert.equal(again.response.status, 404);
    assert.deepEqual(again.error, {
      code: "MTCH-3404",
      title: "Not Found",
      message: "No such webhook token.",
    });
    const left = await client.GET(TOKENS);
    assert.deepEqual(left.data?.items.map((t) => t.id), [second.data.id]);

    const unbound = await client.POST(TOKENS, {
      body: { vendor: "belvo", connection_config_name: "pluggy-main" },
    });
    assert.equal(unbound.response.status, 404);
    assert.equal(unbound.error?.code, "MTCH-2404");
  });
});

Deno.test("a token minted with a header secret answers the typed header to configure, once", async () => {
  await withClient(async ({ client }) => {
    await create(client, pluggy());
    const minted = await client.POST(TOKENS, {
      body: { vendor: "pluggy", connection_config_name: "pluggy-main", withHeaderSecret: true },
    });
    assert.equal(minted.response.status, 201);
    expectType<
      Equals<NonNullable<typeof minted.data>["header"], Schemas["WebhookHeaderSecret"] | undefined>
    >(true);
    assert.equal(minted.data?.header?.name, "X-Matcher-Webhook-Secret");
    assert.match(minted.data?.header?.value ?? "", /^mwhs_[\w-]{43}$/);
    const plain = await client.POST(TOKENS, {
      body: { vendor: "pluggy", connection_config_name: "pluggy-main" },
    });
    assert.equal(plain.data?.header, undefined);
    const list = await client.GET(TOKENS);
    assert.deepEqual(list.data?.items.map((t) => t.withHeaderSecret), [false, true]);
    assert.ok(!JSON.stringify(list.data).includes(minted.data!.header!.value));
  });
});

Deno.test("readRateLimit reads the tenant's quota off each answer, and a 429 carries Retry-After", async () => {
  await withClient(async ({ client }) => {
    const first = await client.GET(CONNECTIONS);
    assert.equal(first.response.status, 200);
    const limit = readRateLimit(first.response.headers);
    assert.ok(limit);
    assert.equal(limit.policy, "reads");
    assert.equal(limit.limit, 2);
    assert.equal(limit.windowSeconds, 60);
    assert.equal(limit.remaining, 1);
    assert.ok(limit.resetSeconds >= 1 && limit.resetSeconds <= 60);
    await client.GET(CONNECTIONS);
    const refused = await client.GET(CONNECTIONS);
    assert.equal(refused.response.status, 429);
    assert.equal(refused.error?.code, "MTCH-1429");
    assert.equal(readRateLimit(refused.response.headers)?.remaining, 0);
    // A list walked with paginate stops with the refusal, and says when to try again.
    const walk = async () => {
      for await (const _ of client.paginate(CONNECTIONS)) { /* nothing listed */ }
    };
    const error = await walk().then(() => undefined, (e) => e);
    assert.ok(error instanceof MatcherApiError);
    assert.equal(error.status, 429);
    assert.ok(error.retryAfterSeconds! >= 1 && error.retryAfterSeconds! <= 60);
    // Writes have their own quota, and an open route announces none.
    const created = await client.POST(CONNECTIONS, { body: pluggy() });
    assert.equal(readRateLimit(created.response.headers)?.policy, "writes");
    const health = await client.GET("/health");
    assert.equal(readRateLimit(health.response.headers), undefined);
  }, { rateLimits: { perTenant: { reads: 2, writes: 5 } } });
});

Deno.test("a webhook and a requested pull store the vendor's transactions, listed page by page", async () => {
  await withFakePluggy(async ({ client, fake }) => {
    const connection = await create(client, toFake(fake));
    const body = { vendor: "pluggy", connection_config_name: "pluggy-main" } as const;
    const { data: minted } = await client.POST(TOKENS, { body });
    assert.ok(minted);

    const delivery = await fake.sendWebhook(
      minted.webhookUrl,
      fake.webhooks.itemUpdated({ itemId: connection.accountRef }),
    );
    assert.equal(delivery.status, 202);
    const receipt: Schemas["WebhookReceipt"] = await delivery.json();
    assert.equal(receipt.status, "accepted");
    assert.ok(receipt.pullId);
    const fromWebhook = await settled(client, receipt.pullId);
    assert.equal(fromWebhook.status, "succeeded");
    assert.equal(fromWebhook.trigger, "webhook");
    assert.equal(fromWebhook.transactionsUpserted, 35);

    const path = { id: connection.id };
    const requested = await client.POST(PULLS, { params: { path } });
    expectType<Equals<typeof requested.data, Pull | undefined>>(true);
    assert.equal(requested.response.status, 202);
    assert.ok(requested.data);
    assert.equal(requested.data.trigger, "manual");
    assert.equal(requested.data.lastError, null);
    const manual = await settled(client, requested.data.id);
    assert.equal(manual.status, "succeeded");
    assert.equal(manual.attempts, 1);
    assert.equal(manual.transactionsUpserted, 0, "nothing new since the webhook's pull");
    assert.ok(manual.finishedAt);

    const pulls = await client.GET(PULLS, { params: { path, query: { limit: 1 } } });
    expectType<Equals<typeof pulls.data, Schemas["PullPage"] | undefined>>(true);
    assert.deepEqual(pulls.data?.items.map((p) => p.id), [manual.id], "newest first");
    assert.ok(pulls.data?.nextCursor);
    const older = await client.GET(PULLS, {
      params: { path, query: { limit: 1, cursor: pulls.data.nextCursor } },
    });
    assert.deepEqual(older.data?.items.map((p) => p.id), [fromWebhook.id]);
    assert.equal(older.data?.hasMore, false);

    const retried = await client.POST(`${PULL_BY_ID}/retry`, {
      params: { path: { pullId: fromWebhook.id } },
    });
    expectType<Equals<typeof retried.data, Pull | undefined>>(true);
    assert.equal(retried.response.status, 202);
    assert.ok(retried.data && retried.data.id !== fromWebhook.id);
    assert.equal((await settled(client, retried.data.id)).status, "succeeded");

    const seen: Schemas["Transaction"][] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.GET(TRANSACTIONS, {
        params: { path, query: { limit: 10, ...(cursor ? { cursor } : {}) } },
      });
      expectType<Equals<typeof page.data, Schemas["TransactionPage"] | undefined>>(true);
      assert.equal(page.response.status, 200);
      assert.ok(page.data);
      assert.ok(page.data.items.length <= 10);
      seen.push(...page.data.items);
      cursor = page.data.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    assert.equal(pages, 4, "35 transactions at 10 a page");
    const vendorIds = fake.items[0].accounts.flatMap((a) =>
      fake.transactions(a.id).map((t) => t.id)
    );
    assert.deepEqual(seen.map((t) => t.externalId).sort(), vendorIds.sort(), "each once");
    assert.ok(seen.every((t) => t.connectionId === connection.id && t.vendor === "pluggy"));

    await client.DELETE(TOKEN_BY_ID, { params: { path: { tokenId: minted.id } } });
    const late = await fake.sendWebhook(
      minted.webhookUrl,
      fake.webhooks.itemUpdated({ itemId: connection.accountRef }),
    );
    assert.equal(late.status, 404, "a revoked token's URL is gone");
    await late.body?.cancel();
  });
});

Deno.test("a pull id that is not the tenant's is a typed 404, and so are another tenant's routes", async () => {
  await withFakePluggy(async ({ h, client, fake }) => {
    const mine = await create(client, toFake(fake));
    const { data: pull } = await client.POST(PULLS, { params: { path: { id: mine.id } } });
    assert.ok(pull);

    const theirs = createMatcherClient({ baseUrl: h.baseUrl, token: () => h.token(newTenant()) });
    for (const pullId of [pull.id, crypto.randomUUID(), "not-a-uuid"]) {
      const { error, response } = await theirs.GET(PULL_BY_ID, { params: { path: { pullId } } });
      assert.equal(response.status, 404, pullId);
      expectType<Equals<typeof error, MatcherError | undefined>>(true);
      assert.deepEqual(error, { code: "MTCH-4404", title: "Not Found", message: "No such pull." });
    }
    const path = { id: mine.id };
    for (
      const answer of [
        await theirs.POST(PULLS, { params: { path } }),
        await theirs.GET(PULLS, { params: { path } }),
        await theirs.GET(TRANSACTIONS, { params: { path } }),
      ]
    ) {
      assert.equal(answer.response.status, 404);
      assert.equal(answer.error?.code, "MTCH-2404");
    }
    const bad = await client.GET(TRANSACTIONS, { params: { path, query: { cursor: "%%%" } } });
    assert.equal(bad.response.status, 400);
    assert.equal(bad.error?.code, "MTCH-1002");
    await settled(client, pull.id);
  });
});

// Connector types

Deno.test("connector types lists the registered non-aggregator types", async () => {
  await withClient(async ({ client }) => {
    const { data, response } = await client.GET("/v1/discovery/connector-types");
    assert.equal(response.status, 200);
    expectType<Equals<typeof data, components["schemas"]["ConnectorTypeList"] | undefined>>(true);
    assert.deepEqual(data, {
      types: [
        { type: "postgres", category: "database" },
        { type: "rest-generic", category: "rest" },
      ],
    });
  });
});

Deno.test("test checks a connection live against its vendor and answers a typed result", async () => {
  const fake = await startFakePluggy();
  try {
    await withClient(async ({ client }) => {
      await create(
        client,
        pluggy({
          baseUrl: fake.url,
          accountRef: fake.items[0].id,
          clientId: "fake-client-id",
          secret: "fake-client-secret",
        }),
      );
      const body = { vendor: "pluggy", configName: "pluggy-main" } as const;
      const ok = await client.POST("/v1/discovery/aggregator-connections/test", { body });
      assert.equal(ok.response.status, 200);
      expectType<Equals<typeof ok.data, components["schemas"]["ConnectionTestResult"] | undefined>>(
        true,
      );
      assert.equal(ok.data?.healthy, true);

      fake.faults.add({ path: "/auth", fault: { status: 401 } });
      const rejected = await client.POST("/v1/discovery/aggregator-connections/test", { body });
      assert.equal(rejected.data?.healthy, false);
      assert.equal(rejected.data?.reason, "credentials_rejected");

      const missing = await client.POST("/v1/discovery/aggregator-connections/test", {
        body: { vendor: "belvo", configName: "pluggy-main" },
      });
      assert.equal(missing.response.status, 404);
      assert.equal(missing.error?.code, "MTCH-2404");
    }, { egress: { allowHosts: [fake.host], allowHttp: true } });
  } finally {
    await fake.close();
  }
});

// Errors, typed as the spec's error envelope

Deno.test("a field the spec refuses is a typed 400 naming the field", async () => {
  await withClient(async ({ client }) => {
    const bad = await client.POST(CONNECTIONS, { body: pluggy({ configName: "x" }) });
    assert.equal(bad.response.status, 400);
    assert.equal(bad.data, undefined);
    const error: MatcherError | undefined = bad.error;
    assert.equal(error?.code, "MTCH-1001");
    assert.equal(error?.title, "Bad Request");
    assert.ok(error?.details?.fields?.length, "details.fields names the problems");
    assert.deepEqual(new Set(error.details.fields.map((f) => f.field)), new Set(["configName"]));

    const page = await client.GET(CONNECTIONS, { params: { query: { limit: 0 } } });
    assert.equal(page.response.status, 400);
    assert.equal(page.error?.code, "MTCH-1002");
  });
});

Deno.test("an id that is not the tenant's live connection is a typed 404", async () => {
  await withClient(async ({ h, client }) => {
    const theirs = createMatcherClient({ baseUrl: h.baseUrl, token: () => h.token(newTenant()) });
    const other = await create(theirs, pluggy());
    for (const id of [crypto.randomUUID(), other.id, "not-a-uuid"]) {
      const { error, response } = await client.GET(BY_ID, { params: { path: { id } } });
      assert.equal(response.status, 404, id);
      assert.deepEqual(error, {
        code: "MTCH-2404",
        title: "Not Found",
        message: "No such aggregator connection.",
      });
    }
  });
});

Deno.test("a config name already taken is a typed 409", async () => {
  await withClient(async ({ client }) => {
    await create(client, pluggy());
    const { error, response } = await client.POST(CONNECTIONS, {
      body: pluggy({ vendor: "belvo", baseUrl: "https://sandbox.belvo.com" }),
    });
    assert.equal(response.status, 409);
    assert.equal(error?.code, "MTCH-2409");
  });
});

Deno.test("a client with a token the service does not accept gets a typed 401", async () => {
  await withClient(async ({ h }) => {
    const client = createMatcherClient({ baseUrl: h.baseUrl, token: "not-a-jwt" });
    const { error, response } = await client.GET(CONNECTIONS);
    assert.equal(response.status, 401);
    assert.equal(error?.code, "MTCH-1401");
  });
});

// The client itself

Deno.test("the client sends the token through the fetch it is given, and reaches the open routes", async () => {
  await withClient(async ({ h, tenant }) => {
    const sent: string[] = [];
    const token = await h.token(tenant);
    const client = createMatcherClient({
      baseUrl: `${h.baseUrl}/`,
      token,
      fetch: (request) => {
        sent.push(
          `${request.method} ${new URL(request.url).pathname} ${
            request.headers.get("Authorization")
          }`,
        );
        return fetch(request);
      },
    });
    const health = await client.GET("/health");
    assert.deepEqual(health.data, { status: "ok" });
    const ready = await client.GET("/ready");
    assert.equal(ready.data?.status, "ready");
    const list = await client.GET(CONNECTIONS);
    assert.deepEqual(list.data?.items, []);
    assert.deepEqual(sent, [
      `GET /health Bearer ${token}`,
      `GET /ready Bearer ${token}`,
      `GET ${CONNECTIONS} Bearer ${token}`,
    ]);
  });
});
