// The audit trail on the real service process with events on: each change made through the API is
// listed once with its actor and request id, a replayed Idempotency-Key adds nothing, and every
// record reaches matcher.events as discovery.audit_log_created with the same content.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { startFakePluggy } from "../fakes/pluggy.ts";
import { createTestDatabase } from "../support/database.ts";
import { encodings } from "../support/leaks.ts";
import { bindQueue, createVhost } from "../support/rabbitmq.ts";
import { serviceSetup, waitFor } from "../support/service.ts";
import type { Json } from "../support/vendor_calls.ts";

const API = "/v1/discovery";
const ACTOR = { subject: "auditor@example.com", issuer: "https://id.example.com/" };

Deno.test({
  name: "the audit trail on the real process: listed over HTTP and published on matcher.events",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const db = await createTestDatabase();
    const pluggy = await startFakePluggy();
    const vhost = await createVhost();
    const queue = await bindQueue(vhost.url());
    const setup = await serviceSetup(db.url, [pluggy.host], {
      MATCHER_AMQP_URL: vhost.url(),
      MATCHER_PULL_WEBHOOK_DELAY_MS: "0",
    });
    const service = await setup.start();
    try {
      const tenant = crypto.randomUUID();
      const jwt = await new SignJWT({ tenant_id: tenant, sub: ACTOR.subject, iss: ACTOR.issuer })
        .setProtectedHeader({ alg: "HS256" })
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode(setup.secret));
      const made: Array<{ action: string; requestId: string }> = [];
      const call = async (
        method: string,
        path: string,
        body?: unknown,
        headers: Record<string, string> = {},
      ) => {
        const requestId = `audit-${made.length}-${crypto.randomUUID()}`;
        const res = await fetch(`${service.baseUrl}${API}${path}`, {
          method,
          headers: {
            Authorization: `Bearer ${jwt}`,
            "X-Request-Id": requestId,
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : null, requestId };
      };
      const change = async (
        action: string,
        expected: number,
        ...args: Parameters<typeof call>
      ) => {
        const res = await call(...args);
        assert.equal(res.status, expected, JSON.stringify(res.body));
        made.push({ action, requestId: res.requestId });
        return res.body;
      };

      const credential = { clientId: "fake-client-id", secret: "fake-client-secret" };
      const fields = { baseUrl: pluggy.url, accountRef: pluggy.items[0].id };
      const create = { vendor: "pluggy", configName: "pluggy-main", ...fields, ...credential };
      const key = { "Idempotency-Key": crypto.randomUUID() };
      const { id } = await change(
        "connection.created",
        201,
        "POST",
        "/aggregator-connections",
        create,
        key,
      );
      const replay = await call("POST", "/aggregator-connections", create, key);
      assert.equal(replay.body.id, id, "the replay is the kept answer, and runs nothing");
      await change("connection.updated", 200, "PUT", `/aggregator-connections/${id}`, {
        configName: "pluggy-main",
        ...fields,
        ...credential,
      });
      const tested = await change(
        "connection.tested",
        200,
        "POST",
        "/aggregator-connections/test",
        {
          vendor: "pluggy",
          configName: "pluggy-main",
        },
      );
      assert.equal(tested.healthy, true);
      const token = await change("webhook_token.minted", 201, "POST", "/webhooks/tokens", {
        vendor: "pluggy",
        connection_config_name: "pluggy-main",
        withHeaderSecret: true,
      });
      await change("webhook_token.revoked", 204, "DELETE", `/webhooks/tokens/${token.id}`);
      const pull = await change(
        "pull.requested",
        202,
        "POST",
        `/aggregator-connections/${id}/pulls`,
      );
      await waitFor(
        "the pull",
        async () => (await call("GET", `/pulls/${pull.id}`)).body.status === "succeeded",
      );
      await change("pull.retried", 202, "POST", `/pulls/${pull.id}/retry`);
      await change("connection.deleted", 204, "DELETE", `/aggregator-connections/${id}`);

      const listed = await call("GET", "/audit-events?limit=200");
      assert.equal(listed.status, 200);
      const trail: Json[] = listed.body.items;
      assert.deepEqual(
        trail.map((e) => ({ action: e.action, requestId: e.requestId })),
        made.toReversed(),
      );
      for (const e of trail) {
        assert.deepEqual(e.actor, ACTOR);
        assert.equal(e.tenantId, tenant);
        assert.equal(e.connectionId, id);
      }
      assert.deepEqual(trail.find((e) => e.action === "connection.updated")!.details, {
        fields: [],
        credentialRotated: true,
      });

      // Each record on the bus, with its content, in the connection's event order.
      await queue.until(
        "every audit record",
        (m) =>
          m.filter((e) => e.routingKey === "discovery.audit_log_created").length === made.length,
      );
      const published = queue.messages.filter((m) =>
        m.routingKey === "discovery.audit_log_created"
      );
      assert.deepEqual(
        published.map((m) => m.body.auditEventId),
        trail.map((e) => e.id).toReversed(),
      );
      for (const m of published) {
        const e = trail.find((x) => x.id === m.body.auditEventId)!;
        assert.deepEqual(
          [m.body.action, m.body.target, m.body.actor, m.body.requestId, m.body.details],
          [e.action, e.target, e.actor, e.requestId, e.details],
        );
        assert.equal(m.headers["X-Tenant-ID"], tenant);
      }
      const sequences = queue.messages.map((m) => m.body.sequence as number);
      assert.deepEqual(sequences, sequences.toSorted((a, b) => a - b), "one connection, in order");

      // Neither the trail nor the bus nor the process's log holds the credential or the token.
      const secrets = [credential.secret, token.token, token.header.value].flatMap(encodings);
      const texts = [listed, ...queue.messages.map((m) => m.raw)].map((x) => JSON.stringify(x));
      const stopped = await service.stop();
      assert.equal(stopped.code, 0);
      for (const text of [...texts, ...service.lines]) {
        for (const secret of secrets) assert.ok(!text.includes(secret), "no secret");
      }
    } finally {
      await service.stop().catch(() => {});
      await queue.close();
      await vhost.delete();
      await setup.cleanup();
      await pluggy.close();
      await db.drop();
    }
  },
});
