// The client's paginate against the live service: every list operation walked page by page yields
// what one large page lists, each item once and in order; a refused page throws its envelope.
import assert from "node:assert/strict";
import {
  type components,
  createMatcherClient,
  MatcherApiError,
  type MatcherClient,
} from "../../clients/typescript/client.ts";
import { type FakePluggy, startFakePluggy } from "../fakes/pluggy.ts";
import { type Harness, newTenant, startHarness } from "../support/harness.ts";

type CreateBody = components["schemas"]["CreateAggregatorConnectionRequest"];

const CONNECTIONS = "/v1/discovery/aggregator-connections";
const PULLS = "/v1/discovery/aggregator-connections/{id}/pulls";
const TRANSACTIONS = "/v1/discovery/aggregator-connections/{id}/transactions";
const TOKENS = "/v1/discovery/webhooks/tokens";
const CHANGES = "/v1/discovery/transactions/changes";
const PULL_BY_ID = "/v1/discovery/pulls/{pullId}";
const AUDIT = "/v1/discovery/audit-events";

interface Session {
  h: Harness;
  fake: FakePluggy;
  client: MatcherClient;
  /** The query string of every request the client sent, in order. */
  sent: URLSearchParams[];
  /** A client for the same tenant whose fetch is `fetch`. */
  clientWith(fetch: (request: Request) => Promise<Response>): MatcherClient;
}

/** The service, a fake Pluggy it may reach, and a client for a fresh tenant that records queries. */
async function withSession(use: (session: Session) => Promise<void>): Promise<void> {
  const fake = await startFakePluggy();
  const h = await startHarness({ egress: { allowHosts: [fake.host], allowHttp: true } });
  try {
    const tenant = newTenant();
    const sent: URLSearchParams[] = [];
    const clientWith = (fetch: (request: Request) => Promise<Response>) =>
      createMatcherClient({ baseUrl: h.baseUrl, token: () => h.token(tenant), fetch });
    const client = clientWith((request) => {
      sent.push(new URL(request.url).searchParams);
      return fetch(request);
    });
    await use({ h, fake, client, sent, clientWith });
  } finally {
    await h.close();
    await fake.close();
  }
}

function toFake(fake: FakePluggy, configName: string): CreateBody {
  return {
    vendor: "pluggy",
    configName,
    baseUrl: fake.url,
    accountRef: fake.items[0].id,
    clientId: "fake-client-id",
    secret: "fake-client-secret",
  };
}

async function create(client: MatcherClient, body: CreateBody) {
  const { data, error } = await client.POST(CONNECTIONS, { body });
  assert.ok(data, JSON.stringify(error));
  return data;
}

/** Requests a pull and waits until it has finished. */
async function pulled(client: MatcherClient, id: string): Promise<void> {
  const { data: queued } = await client.POST(PULLS, { params: { path: { id } } });
  assert.ok(queued);
  const pullId = queued.id;
  for (let i = 0; i < 200; i++) {
    const { data } = await client.GET(PULL_BY_ID, { params: { path: { pullId } } });
    if (data?.status === "succeeded") return;
    assert.ok(
      data && ["queued", "running", "retrying"].includes(data.status),
      String(data?.status),
    );
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`pull ${pullId} did not finish`);
}

const ids = (items: { id: string }[]) => items.map((item) => item.id);

Deno.test("paginate yields every item of each list operation once, in the order one page lists them", async () => {
  await withSession(async ({ fake, client, sent }) => {
    const connection = await create(client, toFake(fake, "pluggy-main"));
    for (let i = 1; i < 5; i++) await create(client, toFake(fake, `pluggy-${i}`));
    for (let i = 0; i < 3; i++) await pulled(client, connection.id);
    const body = { vendor: "pluggy", connection_config_name: "pluggy-main" } as const;
    for (let i = 0; i < 3; i++) assert.ok((await client.POST(TOKENS, { body })).data);
    const path = { id: connection.id };
    // The feed shows a change once every transaction older than it ended (other suites' too).
    for (let i = 0; i < 600; i++) {
      const { data } = await client.GET(CHANGES, { params: { query: { limit: 200 } } });
      if (data?.items.length === 35) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const cases: {
      name: string;
      count: number;
      limit: number;
      pages: () => AsyncIterable<{ id: string }>;
      page: () => Promise<{ data?: { items: { id: string }[] } }>;
    }[] = [
      {
        name: "connections",
        count: 5,
        limit: 2,
        pages: () => client.paginate(CONNECTIONS, { params: { query: { limit: 2 } } }),
        page: () => client.GET(CONNECTIONS, { params: { query: { limit: 200 } } }),
      },
      {
        name: "pulls",
        count: 3,
        limit: 1,
        pages: () => client.paginate(PULLS, { params: { path, query: { limit: 1 } } }),
        page: () => client.GET(PULLS, { params: { path, query: { limit: 200 } } }),
      },
      {
        name: "transactions",
        count: 35,
        limit: 10,
        pages: () => client.paginate(TRANSACTIONS, { params: { path, query: { limit: 10 } } }),
        page: () => client.GET(TRANSACTIONS, { params: { path, query: { limit: 200 } } }),
      },
      {
        name: "change feed",
        count: 35,
        limit: 10,
        pages: () => client.paginate(CHANGES, { params: { query: { limit: 10 } } }),
        page: () => client.GET(CHANGES, { params: { query: { limit: 200 } } }),
      },
      {
        name: "webhook tokens",
        count: 3,
        limit: 2,
        pages: () => client.paginate(TOKENS, { params: { query: { limit: 2 } } }),
        page: () => client.GET(TOKENS, { params: { query: { limit: 200 } } }),
      },
      {
        // Five creates, three pull requests, three mints.
        name: "audit events",
        count: 11,
        limit: 4,
        pages: () => client.paginate(AUDIT, { params: { query: { limit: 4 } } }),
        page: () => client.GET(AUDIT, { params: { query: { limit: 200 } } }),
      },
    ];
    for (const { name, count, limit, pages, page } of cases) {
      const { data } = await page();
      assert.ok(data);
      assert.equal(data.items.length, count, name);
      sent.length = 0;
      const walked = await Array.fromAsync(pages());
      assert.deepEqual(ids(walked), ids(data.items), `${name}: each once, in order`);
      assert.equal(sent.length, Math.ceil(count / limit), `${name}: one request a page`);
      assert.deepEqual(sent.map((q) => q.get("limit")), sent.map(() => String(limit)), name);
      assert.equal(sent[0].get("cursor"), null, `${name}: the first page has no cursor`);
      assert.equal(sent[0].get("after"), null, `${name}: nor an after`);
      // The feed takes its cursor as `after`; every other list as `cursor`.
      const key = name === "change feed" ? "after" : "cursor";
      assert.ok(sent.slice(1).every((q) => q.get(key)), `${name}: later pages give ${key}`);
    }
  });
});

Deno.test("paginate starts at a given cursor, and asks for the next page only when the loop needs it", async () => {
  await withSession(async ({ fake, client, sent }) => {
    for (let i = 0; i < 5; i++) await create(client, toFake(fake, `pluggy-${i}`));
    const { data: all } = await client.GET(CONNECTIONS);
    const { data: first } = await client.GET(CONNECTIONS, { params: { query: { limit: 2 } } });
    assert.ok(all && first?.nextCursor);

    const rest = client.paginate(CONNECTIONS, {
      params: { query: { limit: 2, cursor: first.nextCursor } },
    });
    assert.deepEqual(ids(await Array.fromAsync(rest)), ids(all.items.slice(2)));

    sent.length = 0;
    for await (
      const connection of client.paginate(CONNECTIONS, { params: { query: { limit: 2 } } })
    ) {
      assert.equal(connection.id, all.items[0].id);
      break;
    }
    assert.equal(sent.length, 1, "breaking out of the loop asks for no further page");
  });
});

/** Walks `pages` to its end or its error; answers the ids that arrived and what was thrown. */
async function walk(pages: AsyncIterable<{ id: string }>) {
  const seen: string[] = [];
  try {
    for await (const item of pages) seen.push(item.id);
  } catch (error) {
    return { seen, error };
  }
  return { seen, error: undefined };
}

Deno.test("a page the service refuses mid-walk throws its envelope after the items before it", async () => {
  await withSession(async ({ fake, clientWith }) => {
    // The second request's cursor is spoiled on the way out, so the real service refuses it.
    let requests = 0;
    const client = clientWith((request) => {
      const url = new URL(request.url);
      if (++requests === 2) url.searchParams.set("cursor", "not-a-cursor");
      return fetch(new Request(url, request));
    });
    for (let i = 0; i < 3; i++) await create(client, toFake(fake, `pluggy-${i}`));
    requests = 0;

    const { seen, error } = await walk(
      client.paginate(CONNECTIONS, { params: { query: { limit: 2 } } }),
    );
    assert.equal(seen.length, 2, "the first page's items arrived before the error");
    assert.ok(error instanceof MatcherApiError, String(error));
    assert.equal(error.status, 400);
    assert.equal(error.code, "MTCH-1002");
    assert.equal(error.title, "Bad Request");
    assert.equal(error.envelope?.code, "MTCH-1002");
    assert.ok(error.envelope?.message);
    assert.equal(error.message, `400 MTCH-1002: ${error.envelope.message}`);
  });
});

Deno.test("a list the service refuses at once throws: the pulls of a connection that is not there", async () => {
  await withSession(async ({ client }) => {
    const path = { id: crypto.randomUUID() };
    const { seen, error } = await walk(client.paginate(PULLS, { params: { path } }));
    assert.deepEqual(seen, []);
    assert.ok(error instanceof MatcherApiError, String(error));
    assert.equal(error.status, 404);
    assert.equal(error.code, "MTCH-2404");
    assert.equal(error.title, "Not Found");
  });
});

Deno.test("an answer that is not the service's (a proxy's 502, a page with more but no cursor) throws", async () => {
  await withSession(async ({ fake, client, clientWith }) => {
    for (let i = 0; i < 3; i++) await create(client, toFake(fake, `pluggy-${i}`));

    const proxied = clientWith(() => Promise.resolve(new Response("Bad Gateway", { status: 502 })));
    const refused = await walk(proxied.paginate(CONNECTIONS));
    assert.ok(refused.error instanceof MatcherApiError, String(refused.error));
    assert.equal(refused.error.status, 502);
    assert.equal(refused.error.envelope, undefined);
    assert.equal(refused.error.code, undefined);

    // The real first page, with its cursor taken out: following it would start over forever.
    let requests = 0;
    const cursorless = clientWith(async (request) => {
      requests++;
      const page = await (await fetch(request)).json();
      return Response.json({ ...page, nextCursor: null });
    });
    const stuck = await walk(cursorless.paginate(CONNECTIONS, { params: { query: { limit: 2 } } }));
    assert.equal(stuck.seen.length, 2);
    assert.ok(stuck.error instanceof Error);
    assert.match(stuck.error.message, /hasMore without a new nextCursor/);
    assert.equal(requests, 1);
  });
});
