// asyncapi.yaml is a valid AsyncAPI 3 document (@asyncapi/parser), and every message the service
// really publishes to matcher.events (consumed from a queue in a test vhost) matches the message
// it describes for its routing key (Ajv), every described message published at least once.
import assert from "node:assert/strict";
import { fromFile, Parser } from "@asyncapi/parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { deliver, wirePluggy } from "../support/pulls.ts";
import { bindQueue, createVhost } from "../support/rabbitmq.ts";
import { waitFor } from "../support/service.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const ASYNCAPI = new URL("../../asyncapi.yaml", import.meta.url).pathname;

/** The document, parsed and validated; its references (into openapi.yaml too) resolved. */
async function loadAsyncApi() {
  const { document, diagnostics } = await fromFile(new Parser(), ASYNCAPI).parse();
  const problems = diagnostics.filter((d) => d.severity <= 1)
    .map((d) => `${d.code} at ${d.path.join(".")}: ${d.message}`);
  assert.deepEqual(problems, [], "asyncapi.yaml has no error or warning");
  assert.ok(document);
  return document;
}

Deno.test("asyncapi.yaml is a valid AsyncAPI 3 document whose every operation names its routing key", async () => {
  const document = await loadAsyncApi();
  assert.match(document.version(), /^3\./);
  const channel = document.channels().all().find((c) => c.address() === "matcher.events");
  assert.ok(channel, "the matcher.events channel");
  const keys = document.operations().all().map((op) => op.bindings().get("amqp")?.value().cc[0]);
  assert.deepEqual(keys.sort(), [
    "discovery.audit_log_created",
    "discovery.connection.deleted",
    "discovery.pull.completed",
    "discovery.pull.failed",
    "discovery.transactions.changed",
  ]);
});

Deno.test("every message the service publishes matches asyncapi.yaml, and every described message is published", async () => {
  const document = await loadAsyncApi();
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const described = new Map(
    document.operations().all().map((op) => {
      const message = op.messages().all()[0];
      return [op.bindings().get("amqp")!.value().cc[0] as string, {
        payload: ajv.compile(message.payload()!.json()),
        headers: ajv.compile(message.headers()!.json()),
        contentType: message.contentType(),
      }];
    }),
  );

  const vhost = await createVhost();
  // Bound before the service starts: its first events (the audit records) reach the queue too.
  const queue = await bindQueue(vhost.url());
  const w = await wirePluggy({ pageSize: 6 }, {
    events: { amqpUrl: vhost.url(), relay: { pollMs: 100 } },
  });
  try {
    const pull = async (payload: object) => {
      const { body } = await deliver(w, payload);
      await waitFor("the pull", async () => (await w.pull(body.pullId)).status === "succeeded");
    };
    const account = w.fake.items[0].accounts[0].id;
    await pull(w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    const gone = w.fake.transactions(account).slice(0, 2).map((t) => t.id);
    w.fake.deleteTransactions(gone);
    await pull(w.fake.webhooks.transactionsDeleted({
      itemId: w.accountRef,
      accountId: account,
      transactionIds: gone,
    }));
    // A connection whose item does not exist: its pull fails at once.
    const broken = await w.addConnection("pluggy-broken", crypto.randomUUID());
    const failed = await w.h.request(
      `/v1/discovery/aggregator-connections/${broken.connectionId}/pulls`,
      { method: "POST", tenant: w.tenant },
    );
    assert.equal(failed.status, 202);
    await queue.until(
      "the failed pull",
      (m) => m.some((e) => e.routingKey === "discovery.pull.failed"),
    );
    const deleted = await w.h.request(`/v1/discovery/aggregator-connections/${w.connectionId}`, {
      method: "DELETE",
      tenant: w.tenant,
    });
    assert.equal(deleted.status, 204);
    await queue.until(
      "the connection deleted",
      (m) => m.some((e) => e.routingKey === "discovery.connection.deleted"),
    );

    const seen = new Set<string>();
    for (const m of queue.messages) {
      const schema = described.get(m.routingKey);
      assert.ok(schema, `${m.routingKey} is described`);
      assert.ok(
        schema.payload(m.body),
        `${m.routingKey}: ${ajv.errorsText(schema.payload.errors)}`,
      );
      assert.ok(
        schema.headers(m.headers),
        `${m.routingKey}: ${ajv.errorsText(schema.headers.errors)}`,
      );
      assert.equal(m.contentType, schema.contentType ?? document.defaultContentType());
      assert.equal(m.messageId, m.headers.idempotency_key);
      seen.add(m.routingKey);
    }
    assert.deepEqual(
      [...seen].sort(),
      [...described.keys()].sort(),
      "every described message seen",
    );
    // The audit trail's records: the changes this test made through the API, each published.
    await queue.until(
      "the delete's audit record",
      (m) => m.some((e) => e.body.action === "connection.deleted"),
    );
    const audited = queue.messages.filter((m) => m.routingKey === "discovery.audit_log_created");
    assert.deepEqual([...new Set(audited.map((m) => m.body.action))].sort(), [
      "connection.created",
      "connection.deleted",
      "pull.requested",
      "webhook_token.minted",
    ]);
    const changed = queue.messages.filter((m) => m.routingKey === "discovery.transactions.changed");
    assert.ok(
      changed.some((m) => (m.body.changes as { change: string }[])[0].change === "deleted"),
    );
  } finally {
    await queue.close();
    await w.close();
    await vhost.delete();
  }
});
