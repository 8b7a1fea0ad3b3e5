// Token mints and revokes live in Deno KV, their audit records in Postgres: every way the two
// commits can part (KV fails; Postgres refuses the commit once or for good; the commit's outcome
// is lost; the undo fails) ends with no change without its record and no record without its
// change, or, where that cannot be had, with the one documented leftover and a log line.
import assert from "node:assert/strict";
import { type FakePluggy, startFakePluggy } from "../fakes/pluggy.ts";
import {
  auditRows,
  failCommitsByRequestId,
  faultyKv,
  faultySql,
  idleBroker,
  outboxAuditBodies,
} from "../support/audit.ts";
import { buildTestApp, type Harness, newTenant, startHarness } from "../support/harness.ts";
import { encodings } from "../support/leaks.ts";
import type { Json } from "../support/vendor_calls.ts";

const API = "/v1/discovery";

interface Faults {
  h: Harness;
  fake: FakePluggy;
  kv: ReturnType<typeof faultyKv>;
  sql: ReturnType<typeof faultySql>;
  logs: string[];
  call(
    method: string,
    path: string,
    options?: { json?: unknown; requestId?: string },
  ): Promise<{ status: number; body: Json; headers: Headers; requestId: string }>;
  /** Delivers an event to the token (with its header secret, when it has one): the status. */
  deliver(token: Json): Promise<number>;
  /** Tokens stored in KV (under their hashes), of any tenant. */
  storedTokens(): Promise<number>;
  /** The audit rows of one request. */
  rowsOf(requestId: string): Promise<Json[]>;
}

/**
 * The service over a KV and a SQL handle that fail on demand, on a database that refuses the
 * commit of audit records whose request id says so, with events on (the outbox is written).
 */
async function withFaults(use: (f: Faults) => Promise<void>) {
  const fake = await startFakePluggy();
  const egress = { allowHosts: [fake.host], allowHttp: true };
  const h = await startHarness({ egress });
  await failCommitsByRequestId(h.sql);
  const kv = faultyKv(h.kv);
  const sql = faultySql(h.sql);
  const service = await buildTestApp(sql.sql, kv.kv, {
    egress,
    secret: h.secret,
    sealKeys: h.sealKeys,
    events: { broker: idleBroker },
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => service.fetch(request),
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const tenant = newTenant();
  const jwt = await h.token(tenant, { sub: "ops@example.com" });
  const call: Faults["call"] = async (method, path, options = {}) => {
    const requestId = options.requestId ?? `req-${crypto.randomUUID()}`;
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${jwt}`,
        "X-Request-Id": requestId,
        ...(options.json === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? JSON.parse(text) : null,
      headers: res.headers,
      requestId,
    };
  };
  try {
    const created = await call("POST", `${API}/aggregator-connections`, {
      json: {
        vendor: "pluggy",
        configName: "pluggy-main",
        baseUrl: fake.url,
        accountRef: fake.items[0].id,
        clientId: "fake-client-id",
        secret: "fake-client-secret",
      },
    });
    assert.equal(created.status, 201);
    await use({
      h,
      fake,
      kv,
      sql,
      logs: service.logs,
      call,
      async deliver(token) {
        const res = await fetch(`${base}${API}/webhooks/pluggy/${token.token}`, {
          method: "POST",
          headers: {
            "Content-Type": "application/json",
            ...(token.header ? { [token.header.name]: token.header.value } : {}),
          },
          body: JSON.stringify(fake.webhooks.itemError({ itemId: fake.items[0].id })),
        });
        await res.body?.cancel();
        return res.status;
      },
      async storedTokens() {
        let n = 0;
        for await (const _ of h.kv.list({ prefix: ["webhook_tokens"] })) n++;
        return n;
      },
      async rowsOf(requestId) {
        return (await auditRows(h.sql)).filter((r) => r.request_id === requestId);
      },
    });
    // Whatever happened, each record that committed has its one event, and nothing else has one.
    const ids = (await auditRows(h.sql)).map((r) => r.id).sort();
    assert.deepEqual([...(await outboxAuditBodies(h.sql)).keys()].sort(), ids);
  } finally {
    await server.shutdown();
    await service.closeLimits();
    await service.pool.stop();
    await h.close();
    await fake.close();
  }
}

const MINT = { vendor: "pluggy", connection_config_name: "pluggy-main", withHeaderSecret: true };

async function mint(f: Faults, requestId?: string) {
  return await f.call("POST", `${API}/webhooks/tokens`, { json: MINT, requestId });
}

async function listed(f: Faults): Promise<string[]> {
  return (await f.call("GET", `${API}/webhooks/tokens?limit=200`)).body.items.map((t: Json) =>
    t.id
  );
}

Deno.test("a KV commit that fails leaves neither the change nor its record", async () => {
  await withFaults(async (f) => {
    f.kv.failCommits(1);
    const refused = await mint(f);
    assert.equal(refused.status, 500);
    assert.deepEqual(await f.rowsOf(refused.requestId), []);
    assert.equal(await f.storedTokens(), 0);

    const token = await mint(f);
    assert.equal(token.status, 201);
    f.kv.failCommits(1);
    const revoke = await f.call("DELETE", `${API}/webhooks/tokens/${token.body.id}`);
    assert.equal(revoke.status, 500);
    assert.deepEqual(await f.rowsOf(revoke.requestId), []);
    assert.deepEqual(await listed(f), [token.body.id]);
    assert.equal(await f.deliver(token.body), 202, "the token still works");
  });
});

Deno.test("a mint whose record Postgres refuses to commit is undone and answers 503", async () => {
  await withFaults(async (f) => {
    const refused = await mint(f, "fail-commit-mint");
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, "MTCH-9503");
    assert.equal(refused.headers.get("Retry-After"), "1");
    assert.equal(refused.body.token, undefined);
    assert.deepEqual(await f.rowsOf(refused.requestId), []);
    assert.equal(await f.storedTokens(), 0, "the stored token was removed");
    assert.deepEqual(await listed(f), []);
    assert.ok(f.logs.some((l) => l.includes("change undone: its audit record did not commit")));

    // The same request again, once the database takes it: minted and recorded.
    const again = await mint(f);
    assert.equal(again.status, 201);
    assert.equal((await f.rowsOf(again.requestId)).length, 1);
    assert.equal(await f.deliver(again.body), 202);
  });
});

Deno.test("a mint whose commit outcome was lost stands when its record is there, and is undone when that cannot be known", async () => {
  await withFaults(async (f) => {
    f.sql.loseNextCommits(1);
    const stands = await mint(f);
    assert.equal(stands.status, 201);
    assert.deepEqual((await f.rowsOf(stands.requestId)).map((r) => r.target_id), [stands.body.id]);
    assert.deepEqual(await listed(f), [stands.body.id]);
    assert.equal(await f.deliver(stands.body), 202);

    // The database is still away when the record is looked for: the token nobody has seen yet is
    // removed. Its record did commit: the one leftover this design allows, logged as such.
    f.sql.loseNextCommits(1, { queriesAfter: 1 });
    const unknown = await mint(f);
    assert.equal(unknown.status, 503);
    assert.deepEqual(await listed(f), [stands.body.id]);
    assert.equal(await f.storedTokens(), 1);
    const [row] = await f.rowsOf(unknown.requestId);
    const line = f.logs.find((l) => l.includes("whether its audit record committed is unknown"));
    assert.ok(line, "logged");
    assert.equal(JSON.parse(line).auditEventId, row.id);
  });
});

Deno.test("a mint that cannot be undone either is logged with its record's id, its token never shown", async () => {
  await withFaults(async (f) => {
    // Postgres refuses the commit, then KV refuses the undo.
    f.kv.failCommits(1, { after: 1 });
    const refused = await mint(f, "fail-commit-undo");
    assert.equal(refused.status, 503);
    assert.equal(refused.body.token, undefined);
    assert.deepEqual(await f.rowsOf(refused.requestId), []);
    const line = f.logs.find((l) => l.includes("audited change not undone"));
    assert.ok(line, "logged");
    assert.equal(JSON.parse(line).action, "webhook_token.minted");
    // The token stays in KV, unknown to anyone: listed, so that the tenant can revoke it.
    assert.equal((await listed(f)).length, 1);
  });
});

Deno.test("a revoke stands when its record cannot commit: the record is written again, or logged whole and answered 503", async () => {
  await withFaults(async (f) => {
    const tokens = [];
    for (let i = 0; i < 3; i++) tokens.push((await mint(f)).body);

    // Refused once: written again in a transaction of its own.
    const once = await f.call("DELETE", `${API}/webhooks/tokens/${tokens[0].id}`, {
      requestId: "fail-once-revoke",
    });
    assert.equal(once.status, 204);
    assert.deepEqual((await f.rowsOf(once.requestId)).map((r) => r.action), [
      "webhook_token.revoked",
    ]);
    assert.equal(await f.deliver(tokens[0]), 404, "revoked");

    // The commit went through but its caller heard otherwise: written once, not twice.
    f.sql.loseNextCommits(1);
    const lost = await f.call("DELETE", `${API}/webhooks/tokens/${tokens[1].id}`);
    assert.equal(lost.status, 204);
    assert.equal((await f.rowsOf(lost.requestId)).length, 1);
    assert.equal(await f.deliver(tokens[1]), 404);

    // Refused for good: the token stays revoked (never brought back), the record is logged.
    const refused = await f.call("DELETE", `${API}/webhooks/tokens/${tokens[2].id}`, {
      requestId: "fail-commit-revoke",
    });
    assert.equal(refused.status, 503);
    assert.deepEqual(await f.rowsOf(refused.requestId), []);
    assert.equal(await f.deliver(tokens[2]), 404);
    assert.deepEqual(await listed(f), []);
    const line = f.logs.find((l) => l.includes("audit record not written; the change stands"));
    assert.ok(line, "logged");
    const { record } = JSON.parse(line);
    assert.deepEqual(
      [record.action, record.target, record.requestId, record.actor.subject],
      [
        "webhook_token.revoked",
        { type: "webhook_token", id: tokens[2].id },
        "fail-commit-revoke",
        "ops@example.com",
      ],
    );
    const secrets = [tokens[2].token, tokens[2].header.value].flatMap(encodings);
    assert.deepEqual(secrets.filter((s) => f.logs.some((l) => l.includes(s))), []);
  });
});
