// The audit trail over real HTTP: every change a tenant makes is listed once, newest first, with
// its actor, request id, target and secret-free details; a change that is refused or rolls back
// leaves none; the listing pages and filters; the table refuses to be rewritten.
import assert from "node:assert/strict";
import { type FakePluggy, startFakePluggy } from "../fakes/pluggy.ts";
import {
  AUDIT,
  auditRows,
  auditTrail,
  failChangesOfNamedConnections,
  failCommitsByRequestId,
  idleBroker,
  outboxAuditBodies,
} from "../support/audit.ts";
import { type Harness, type HarnessOptions, newTenant, startHarness } from "../support/harness.ts";
import { waitFor } from "../support/service.ts";
import type { Json } from "../support/vendor_calls.ts";

const API = "/v1/discovery";
const CONNECTIONS = `${API}/aggregator-connections`;
const ACTOR = { subject: "ops@example.com", issuer: "https://id.example.com/" };

interface Session {
  h: Harness;
  fake: FakePluggy;
  tenant: string;
  /** A request as ACTOR with the request id `requestId` (a fresh one by default). */
  call(
    method: string,
    path: string,
    options?: { json?: unknown; requestId?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Json; requestId: string }>;
}

async function withSession(options: HarnessOptions, use: (s: Session) => Promise<void>) {
  const fake = await startFakePluggy();
  const h = await startHarness({
    egress: { allowHosts: [fake.host], allowHttp: true },
    // Events on, the relay never started: the outbox rows stay to be read.
    events: { broker: idleBroker, start: false },
    ...options,
  });
  const tenant = newTenant();
  const jwt = await h.token(tenant, { sub: ACTOR.subject, iss: ACTOR.issuer });
  const call: Session["call"] = async (method, path, options = {}) => {
    const requestId = options.requestId ?? `req-${crypto.randomUUID()}`;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${jwt}`,
      "X-Request-Id": requestId,
      ...options.headers,
    };
    if (options.json !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(`${h.baseUrl}${path}`, {
      method,
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, requestId };
  };
  try {
    await use({ h, fake, tenant, call });
  } finally {
    await h.close();
    await fake.close();
  }
}

const createBody = (fake: FakePluggy, configName = "pluggy-main") => ({
  vendor: "pluggy",
  configName,
  baseUrl: fake.url,
  accountRef: fake.items[0].id,
  clientId: "fake-client-id",
  secret: "fake-client-secret",
});

async function finished(s: Session, pullId: string): Promise<Json> {
  return await waitFor(`pull ${pullId}`, async () => {
    const { body } = await s.call("GET", `${API}/pulls/${pullId}`);
    return ["succeeded", "failed", "dead"].includes(body.status) ? body : undefined;
  });
}

Deno.test("every change is listed once, newest first, with its actor, request id, target and details", async () => {
  await withSession({}, async (s) => {
    const { fake } = s;
    /** What each change must have recorded, in the order made. */
    const expected: Json[] = [];
    const expect = (
      res: { requestId: string },
      action: string,
      target: Json,
      details: Json,
      actor: Json = ACTOR,
    ) => expected.push({ action, target, requestId: res.requestId, details, actor });

    const created = await s.call("POST", CONNECTIONS, { json: createBody(fake) });
    assert.equal(created.status, 201);
    const id = created.body.id;
    const connection = { type: "connection", id };
    expect(created, "connection.created", connection, {
      vendor: "pluggy",
      configName: "pluggy-main",
    });

    const fields = { baseUrl: fake.url, accountRef: fake.items[0].id };
    const renamed = await s.call("PUT", `${CONNECTIONS}/${id}`, {
      json: {
        ...fields,
        configName: "pluggy-renamed",
        clientId: "fake-client-id",
        secret: "fake-client-secret",
      },
    });
    assert.equal(renamed.status, 200);
    expect(renamed, "connection.updated", connection, {
      fields: ["configName"],
      credentialRotated: true,
    });
    const unchanged = await s.call("PUT", `${CONNECTIONS}/${id}`, {
      json: { ...fields, configName: " pluggy-renamed " },
    });
    assert.equal(unchanged.status, 200);
    expect(unchanged, "connection.updated", connection, { fields: [], credentialRotated: false });

    const test = () =>
      s.call("POST", `${CONNECTIONS}/test`, {
        json: { vendor: "pluggy", configName: "pluggy-renamed" },
      });
    const healthy = await test();
    assert.equal(healthy.body.healthy, true);
    expect(healthy, "connection.tested", connection, {
      healthy: true,
      latencyMs: healthy.body.latencyMs,
    });
    const moved = await s.call("PUT", `${CONNECTIONS}/${id}`, {
      json: { ...fields, configName: "pluggy-renamed", accountRef: crypto.randomUUID() },
    });
    expect(moved, "connection.updated", connection, {
      fields: ["accountRef"],
      credentialRotated: false,
    });
    const unhealthy = await test();
    assert.equal(unhealthy.body.reason, "account_not_found");
    expect(unhealthy, "connection.tested", connection, {
      healthy: false,
      reason: "account_not_found",
      latencyMs: unhealthy.body.latencyMs,
    });
    const back = await s.call("PUT", `${CONNECTIONS}/${id}`, {
      json: { ...fields, configName: "pluggy-renamed" },
    });
    expect(back, "connection.updated", connection, {
      fields: ["accountRef"],
      credentialRotated: false,
    });
    // A token without sub and iss: its actor is recorded as nobody in particular.
    const anonymous = await s.h.request(`${CONNECTIONS}/test`, {
      method: "POST",
      tenant: s.tenant,
      headers: { "X-Request-Id": "anonymous-test" },
      json: { vendor: "pluggy", configName: "pluggy-renamed" },
    });
    const anonymousResult = await anonymous.json();
    expect({ requestId: "anonymous-test" }, "connection.tested", connection, {
      healthy: true,
      latencyMs: anonymousResult.latencyMs,
    }, { subject: null, issuer: null });

    const mint = (withHeaderSecret: boolean) =>
      s.call("POST", `${API}/webhooks/tokens`, {
        json: { vendor: "pluggy", connection_config_name: "pluggy-renamed", withHeaderSecret },
      });
    const guarded = await mint(true);
    assert.equal(guarded.status, 201);
    const guardedToken = { type: "webhook_token", id: guarded.body.id };
    expect(guarded, "webhook_token.minted", guardedToken, { withHeaderSecret: true });
    const plain = await mint(false);
    expect(plain, "webhook_token.minted", { type: "webhook_token", id: plain.body.id }, {
      withHeaderSecret: false,
    });
    const revoked = await s.call("DELETE", `${API}/webhooks/tokens/${guarded.body.id}`);
    assert.equal(revoked.status, 204);
    expect(revoked, "webhook_token.revoked", guardedToken, { withHeaderSecret: true });

    const requested = await s.call("POST", `${CONNECTIONS}/${id}/pulls`);
    assert.equal(requested.status, 202);
    const pullId = requested.body.id;
    expect(requested, "pull.requested", { type: "pull", id: pullId }, {
      pullId,
      trigger: "manual",
    });
    assert.equal((await finished(s, pullId)).status, "succeeded");
    const retried = await s.call("POST", `${API}/pulls/${pullId}/retry`);
    assert.equal(retried.status, 202);
    expect(retried, "pull.retried", { type: "pull", id: pullId }, {
      pullId: retried.body.id,
      trigger: "manual",
    });
    await finished(s, retried.body.id);

    const deleted = await s.call("DELETE", `${CONNECTIONS}/${id}`);
    assert.equal(deleted.status, 204);
    expect(deleted, "connection.deleted", connection, { transactionsDeleted: 35 });

    // The whole trail, newest first, each change once and as it was.
    const trail = await auditTrail(s.h, s.tenant);
    assert.deepEqual(
      trail.map(({ action, target, requestId, details, actor }) => ({
        action,
        target,
        requestId,
        details,
        actor,
      })),
      expected.toReversed(),
    );
    for (const event of trail) {
      assert.equal(event.tenantId, s.tenant);
      assert.equal(event.connectionId, id);
    }
    const times = trail.map((e) => Date.parse(e.occurredAt));
    assert.deepEqual(times, times.toSorted((a, b) => b - a), "newest first");
    assert.deepEqual(trail.map((e) => e.id), trail.map((e) => e.id).toSorted().reverse());

    // With events on, each record went to the outbox in its transaction, with the same content.
    const bodies = await outboxAuditBodies(s.h.sql);
    assert.equal(bodies.size, trail.length);
    for (const event of trail) {
      const { id: auditEventId, ...fields } = event;
      assert.deepEqual(bodies.get(auditEventId), {
        eventType: "discovery.audit_log_created",
        vendor: "pluggy",
        auditEventId,
        ...fields,
        timestamp: event.occurredAt,
      });
    }

    // Page by page, the same events in the same order.
    const walked: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Json = (await s.call(
        "GET",
        `${AUDIT}?limit=4${cursor ? `&cursor=${cursor}` : ""}`,
      )).body;
      walked.push(...page.items.map((e: Json) => e.id));
      cursor = page.nextCursor;
      assert.equal(page.hasMore, cursor !== null);
      pages++;
    } while (cursor);
    assert.deepEqual(walked, trail.map((e) => e.id));
    assert.equal(pages, Math.ceil(trail.length / 4));

    // The filters, alone and together.
    const only = (q: string) => auditTrail(s.h, s.tenant, q);
    const ofTarget = await only(`targetId=${id.toUpperCase()}`);
    assert.deepEqual(
      ofTarget.map((e) => e.id),
      trail.filter((e) => e.target.id === id).map((e) => e.id),
    );
    assert.equal(ofTarget.length, 9);
    const updates = await only("action=connection.updated");
    assert.deepEqual(
      updates.map((e) => e.requestId),
      [back, moved, unchanged, renamed].map((r) => r.requestId),
    );
    const ofToken = await only(`targetId=${guarded.body.id}&action=webhook_token.revoked`);
    assert.deepEqual(ofToken.map((e) => e.requestId), [revoked.requestId]);
    const retries = await only(`targetId=${pullId}&action=pull.retried`);
    assert.deepEqual(retries.map((e) => e.details.pullId), [retried.body.id]);
    assert.deepEqual(await only(`targetId=${crypto.randomUUID()}`), []);

    // Another tenant sees nothing, not even by this tenant's ids.
    const other = newTenant();
    assert.deepEqual(await auditTrail(s.h, other), []);
    assert.deepEqual(await auditTrail(s.h, other, `targetId=${id}`), []);
  });
});

Deno.test("the listing refuses bad limits, cursors and filters with a 400 naming the field", async () => {
  await withSession({}, async (s) => {
    // Every query problem is the listing's MTCH-1002, as on the other lists and their filters.
    const bad = [
      ["limit=0", "limit"],
      ["limit=201", "limit"],
      ["limit=ten", "limit"],
      ["cursor=not-a-cursor", "cursor"],
      ["targetId=not-a-uuid", "targetId"],
      ["action=connection.renamed", "action"],
      ["action=", "action"],
      ["tenantId=" + newTenant(), "tenantId"],
    ];
    for (const [query, field] of bad) {
      const { status, body } = await s.call("GET", `${AUDIT}?${query}`);
      assert.equal(status, 400, query);
      assert.equal(body.code, "MTCH-1002", query);
      assert.ok(
        body.details.fields.some((f: Json) => f.field === field),
        `${query}: ${JSON.stringify(body.details)}`,
      );
    }
    const anonymous = await fetch(`${s.h.baseUrl}${AUDIT}`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
  });
});

Deno.test("a change that is refused or rolls back leaves no record, and a replay writes none", async () => {
  await withSession({ connectionTestsPerMinute: 1, pulls: { wake: false } }, async (s) => {
    const { fake } = s;
    await failCommitsByRequestId(s.h.sql);
    const created = await s.call("POST", CONNECTIONS, { json: createBody(fake) });
    const id = created.body.id;
    const count = async () => (await auditRows(s.h.sql)).length;
    assert.equal(await count(), 1);

    // Refused before or inside the transaction: nothing recorded.
    const refused = [
      await s.call("POST", CONNECTIONS, { json: createBody(fake) }), // name taken
      await s.call("POST", CONNECTIONS, { json: { ...createBody(fake, "x"), configName: "!" } }),
      await s.call("PUT", `${CONNECTIONS}/${crypto.randomUUID()}`, {
        json: { configName: "abc", baseUrl: fake.url, accountRef: "r" },
      }),
      await s.call("DELETE", `${CONNECTIONS}/${crypto.randomUUID()}`),
      await s.call("DELETE", `${API}/webhooks/tokens/${crypto.randomUUID()}`),
      await s.call("POST", `${API}/webhooks/tokens`, {
        json: { vendor: "pluggy", connection_config_name: "nope" },
      }),
      await s.call("POST", `${CONNECTIONS}/${crypto.randomUUID()}/pulls`),
      await s.call("POST", `${API}/pulls/${crypto.randomUUID()}/retry`),
    ];
    assert.deepEqual(refused.map((r) => r.status), [409, 400, 404, 404, 404, 404, 404, 404]);
    // A rename onto a taken name fails inside the update's transaction.
    const other = await s.call("POST", CONNECTIONS, { json: createBody(fake, "pluggy-other") });
    const taken = await s.call("PUT", `${CONNECTIONS}/${id}`, {
      json: { configName: "pluggy-other", baseUrl: fake.url, accountRef: "r" },
    });
    assert.equal(taken.status, 409);
    // A pull still queued cannot be retried; the second live test of the minute is a 429.
    const queued = await s.call("POST", `${CONNECTIONS}/${id}/pulls`);
    assert.equal((await s.call("POST", `${API}/pulls/${queued.body.id}/retry`)).status, 409);
    const test = () =>
      s.call("POST", `${CONNECTIONS}/test`, {
        json: { vendor: "pluggy", configName: "pluggy-main" },
      });
    assert.equal((await test()).status, 200);
    assert.equal((await test()).status, 429);
    const actions = async () => (await auditRows(s.h.sql)).map((r) => r.action);
    assert.deepEqual(await actions(), [
      "connection.created",
      "connection.created",
      "pull.requested",
      "connection.tested",
    ]);

    // A replayed Idempotency-Key runs nothing, and records nothing.
    const keyed = { headers: { "Idempotency-Key": crypto.randomUUID() } };
    const mint = { vendor: "pluggy", connection_config_name: "pluggy-main" };
    const first = await s.call("POST", `${API}/webhooks/tokens`, { json: mint, ...keyed });
    const again = await s.call("POST", `${API}/webhooks/tokens`, { json: mint, ...keyed });
    assert.deepEqual([first.status, again.status], [201, 201]);
    assert.equal(again.body.id, first.body.id);
    const minted = (await auditRows(s.h.sql)).filter((r) => r.action === "webhook_token.minted");
    assert.deepEqual(minted.map((r) => r.request_id), [first.requestId]);

    // Postgres refuses the commit after every statement of the change went through: neither the
    // change nor its record (nor its event) is there.
    const before = await count();
    const [sealed] = await s.h.sql`select sealed_credential from connections where id = ${id}`;
    const failing = (n: number) => ({ requestId: `fail-commit-${n}` });
    const attempts = [
      await s.call("POST", CONNECTIONS, { json: createBody(fake, "pluggy-failed"), ...failing(1) }),
      await s.call("PUT", `${CONNECTIONS}/${id}`, {
        json: {
          configName: "pluggy-failed",
          baseUrl: fake.url,
          accountRef: "moved",
          clientId: "new-id",
          secret: "new-secret",
        },
        ...failing(2),
      }),
      await s.call("DELETE", `${CONNECTIONS}/${id}`, failing(3)),
      await s.call("POST", `${CONNECTIONS}/${id}/pulls`, failing(4)),
    ];
    assert.deepEqual(attempts.map((a) => a.status), [500, 500, 500, 500]);
    assert.equal(await count(), before);
    const connections = await s.h.sql`
      select config_name, account_ref, sealed_credential, deleted_at from connections
      where tenant_id = ${s.tenant} order by created_at`;
    assert.deepEqual(connections.map((c) => c.config_name), ["pluggy-main", "pluggy-other"]);
    assert.equal(connections[0].account_ref, fake.items[0].id);
    assert.deepEqual(connections[0].sealed_credential, sealed.sealed_credential);
    assert.equal(connections[0].deleted_at, null);
    const [{ n: pulls }] = await s.h.sql`select count(*)::int as n from pull_jobs`;
    assert.equal(pulls, 1, "only the pull queued before");

    // The other way round: Postgres refuses to commit the change itself, after its record was
    // written. The record goes with it.
    await failChangesOfNamedConnections(s.h.sql);
    await s.h.sql`
      insert into test_fail_changes values ('pluggy-main'), ('pluggy-other'), ('fail-change')`;
    const changes = [
      await s.call("POST", CONNECTIONS, { json: createBody(fake, "fail-change") }),
      await s.call("PUT", `${CONNECTIONS}/${id}`, {
        json: { configName: "pluggy-main", baseUrl: fake.url, accountRef: "moved" },
      }),
      await s.call("DELETE", `${CONNECTIONS}/${id}`),
      // A connection with no queued pull (a request merged into one that it leaves unchanged
      // changes nothing, and commits).
      await s.call("POST", `${CONNECTIONS}/${other.body.id}/pulls`),
    ];
    assert.deepEqual(changes.map((a) => a.status), [500, 500, 500, 500]);
    assert.equal(await count(), before);
    const [after] = await s.h.sql`
      select account_ref, deleted_at from connections where id = ${id}`;
    assert.deepEqual([after.account_ref, after.deleted_at], [fake.items[0].id, null]);

    const bodies = await outboxAuditBodies(s.h.sql);
    assert.deepEqual(
      [...bodies.keys()].sort(),
      (await auditRows(s.h.sql)).map((r) => r.id).sort(),
      "an event for each committed record, and none for the rest",
    );
  });
});

Deno.test("audit_events refuses UPDATE, DELETE and TRUNCATE, until its owner archives as the README says", async () => {
  await withSession({}, async (s) => {
    for (let i = 0; i < 3; i++) {
      await s.call("POST", CONNECTIONS, { json: createBody(s.fake, `pluggy-${i}`) });
    }
    const refusals = [
      () => s.h.sql`update audit_events set action = 'connection.deleted'`,
      () => s.h.sql`update audit_events set details = '{}' where action = 'connection.created'`,
      () => s.h.sql`delete from audit_events`,
      () => s.h.sql`truncate audit_events`,
    ];
    for (const refusal of refusals) {
      await assert.rejects(refusal, (err: Json) => {
        assert.equal(err.code, "42501");
        assert.match(err.message, /append-only/);
        return true;
      });
    }
    assert.equal((await auditRows(s.h.sql)).length, 3);

    // The README's archive: copy the oldest rows out, then delete exactly those, in one
    // transaction during which the trigger is off (to this transaction only: ALTER TABLE locks).
    const rows = await auditRows(s.h.sql);
    const cutoff = rows[1].occurred_at;
    const copied = await s.h.sql`
      select row_to_json(a)::text as line from audit_events a where occurred_at < ${cutoff}`;
    assert.equal(copied.length, 1);
    await s.h.sql.begin(async (tx) => {
      await tx`alter table audit_events disable trigger audit_events_no_update_or_delete`;
      await tx`delete from audit_events where occurred_at < ${cutoff}`;
      await tx`alter table audit_events enable trigger audit_events_no_update_or_delete`;
    });
    assert.deepEqual(
      (await auditRows(s.h.sql)).map((r) => r.id),
      rows.slice(1).map((r) => r.id),
    );
    await assert.rejects(() => s.h.sql`delete from audit_events`, /append-only/);
  });
});

Deno.test("a token whose sub or iss is not a string is refused, and records nothing", async () => {
  await withSession({}, async (s) => {
    for (const claims of [{ sub: 42 }, { iss: { name: "id" } }, { sub: ["a"], iss: "x" }]) {
      const jwt = await s.h.token(s.tenant, claims);
      const res = await fetch(`${s.h.baseUrl}${CONNECTIONS}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" },
        body: JSON.stringify(createBody(s.fake)),
      });
      const body = await res.json();
      assert.equal(res.status, 401, JSON.stringify(claims));
      assert.equal(body.code, "MTCH-1401");
    }
    assert.deepEqual(await auditRows(s.h.sql), []);
    const [{ n }] = await s.h.sql`select count(*)::int as n from connections`;
    assert.equal(n, 0);
  });
});
