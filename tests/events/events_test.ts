// Events on a real RabbitMQ: pages, pull ends and connection deletes published to matcher.events
// with Matcher's message properties, numbered per connection in commit order, each event's cursor
// a gap-free point to switch to the feed; Matcher's topology declared at start; nothing written
// without MATCHER_AMQP_URL.
import assert from "node:assert/strict";
import { Connection } from "rabbitmq-client";
import { catchUpUntil, FeedCopy, feedGet } from "../support/feed.ts";
import { deliver, wirePluggy } from "../support/pulls.ts";
import { bindQueue, createVhost, type Received } from "../support/rabbitmq.ts";
import { waitFor } from "../support/service.ts";
import type { Json } from "../support/vendor_calls.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function settle(w: { pull(id: string): Promise<Json> }, pullId: string) {
  await waitFor(`pull ${pullId}`, async () => (await w.pull(pullId)).status === "succeeded");
}

const ofKey = (messages: Received[], key: string) => messages.filter((m) => m.routingKey === key);

Deno.test("a pull's pages and its end are published in order with Matcher's message properties", async () => {
  const vhost = await createVhost();
  // Bound before the service starts: its first events (the audit records) reach the queue too.
  const queue = await bindQueue(vhost.url());
  const w = await wirePluggy({ pageSize: 7 }, {
    events: { amqpUrl: vhost.url(), relay: { pollMs: 100 } },
  });
  try {
    const item = w.accountRef;
    const account = w.fake.items[0].accounts[0].id;
    const first = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: item }));
    await settle(w, first.body.pullId);
    await queue.until(
      "the pull's completion",
      (m) => ofKey(m, "discovery.pull.completed").length === 1,
    );
    const changed = w.fake.transactions(account).slice(0, 2).map((t) => t.id);
    w.fake.updateTransactions(changed);
    const update = await deliver(
      w,
      w.fake.webhooks.transactionsUpdated({
        itemId: item,
        accountId: account,
        transactionIds: changed,
      }),
    );
    await settle(w, update.body.pullId);
    const gone = w.fake.transactions(account).slice(5, 6).map((t) => t.id);
    w.fake.deleteTransactions(gone);
    const deletion = await deliver(
      w,
      w.fake.webhooks.transactionsDeleted({
        itemId: item,
        accountId: account,
        transactionIds: gone,
      }),
    );
    await settle(w, deletion.body.pullId);
    await queue.until(
      "three completions",
      (m) => ofKey(m, "discovery.pull.completed").length === 3,
    );

    const messages = queue.messages;
    for (const m of messages) {
      assert.equal(m.deliveryMode, 2, "persistent");
      assert.equal(m.contentType, "application/json");
      assert.match(m.messageId, UUID);
      assert.equal(m.headers.idempotency_key, m.messageId);
      assert.equal(m.headers["X-Tenant-ID"], w.tenant);
      assert.equal(m.body.eventType, m.routingKey);
      assert.equal(m.body.tenantId, w.tenant);
      assert.equal(m.body.connectionId, w.connectionId);
      assert.equal(m.body.vendor, "pluggy");
      assert.equal(typeof m.body.cursor, "string");
    }
    assert.equal(new Set(messages.map((m) => m.messageId)).size, messages.length);
    // One connection: its events numbered 1, 2, 3... in the order they arrive.
    assert.deepEqual(messages.map((m) => m.body.sequence), messages.map((_, i) => i + 1));

    // Each pull's pages come before its completion, which counts what they stored.
    const completions = ofKey(messages, "discovery.pull.completed");
    for (const done of completions) {
      assert.equal(done.body.status, "succeeded");
      const pages = messages.filter((m) =>
        m.routingKey === "discovery.transactions.changed" && m.body.pullId === done.body.pullId
      );
      assert.ok(pages.every((p) => (p.body.sequence as number) < (done.body.sequence as number)));
      const changes = pages.flatMap((p) => p.body.changes as Json[]);
      const upserted = changes.filter((c) => c.change === "upserted").length;
      assert.equal(done.body.transactionsUpserted, upserted);
      for (const p of pages) assert.equal(p.body.changeCount, (p.body.changes as Json[]).length);
    }

    // The changes are the feed's items: applying the events gives the feed's (and vendor's) set.
    const applied = new FeedCopy();
    for (const m of ofKey(messages, "discovery.transactions.changed")) {
      applied.apply(m.body.changes as never);
    }
    const vendorIds = w.fake.items[0].accounts.flatMap((a) => w.fake.transactions(a.id))
      .map((t) => t.id).sort();
    assert.deepEqual([...applied.live.values()].map((t) => t.externalId).sort(), vendorIds);
    const get = feedGet(w.h, w.tenant);
    const feed = new FeedCopy();
    // Until the feed shows the events' last change: a transaction another suite holds open on the
    // server can hide the deletion a while, and a reader from the start then sees the vendor's
    // count already (the deleted row not at all), before the deletion itself.
    const changes = ofKey(messages, "discovery.transactions.changed")
      .flatMap((m) => m.body.changes as Json[]);
    const last = changes[changes.length - 1].cursor;
    await catchUpUntil(get, feed, (c) => c.cursor === last);
    assert.deepEqual(applied.live, feed.live);

    // Each event's cursor is a gap-free switch point: its events so far plus the connection's
    // feed after its cursor hold exactly the final set.
    for (const [k, m] of messages.entries()) {
      const copy = new FeedCopy();
      for (const earlier of messages.slice(0, k + 1)) {
        if (earlier.routingKey === "discovery.transactions.changed") {
          copy.apply(earlier.body.changes as never);
        }
      }
      copy.cursor = m.body.cursor as string;
      await catchUpUntil(get, copy, () => true, { connectionId: w.connectionId });
      assert.deepEqual(copy.live, feed.live, `switching to the feed after event ${k + 1}`);
    }

    // Marked sent once confirmed; nothing left pending.
    const [outbox] = await w.h.sql`
      select count(*)::int as rows, count(sent_at)::int as sent from event_outbox`;
    assert.equal(outbox.rows, messages.length);
    assert.equal(outbox.sent, messages.length);
  } finally {
    await queue.close();
    await w.close();
    await vhost.delete();
  }
});

Deno.test("the service declares matcher.events and Matcher's dead-letter exchange and queue at start", async () => {
  const vhost = await createVhost();
  const w = await wirePluggy({}, { events: { amqpUrl: vhost.url() } });
  const rabbit = new Connection({ url: vhost.url() });
  rabbit.on("error", () => {});
  try {
    await waitFor("the topology", async () => {
      try {
        await rabbit.exchangeDeclare({ exchange: "matcher.events", passive: true });
        await rabbit.exchangeDeclare({ exchange: "matcher.events.dlx", passive: true });
        await rabbit.queueDeclare({ queue: "matcher.events.dlq", passive: true });
        return true;
      } catch {
        return false;
      }
    });
    // Same declarations with other settings would be refused: they are durable topic exchanges.
    await rabbit.exchangeDeclare({ exchange: "matcher.events", type: "topic", durable: true });
    await rabbit.exchangeDeclare({ exchange: "matcher.events.dlx", type: "topic", durable: true });
    await assert.rejects(
      rabbit.exchangeDeclare({ exchange: "matcher.events", type: "direct", durable: true }),
    );
    // A message rejected by a consumer queue with the dead-letter argument lands in the DLQ.
    const queue = `rejecting-${crypto.randomUUID()}`;
    await rabbit.queueDeclare({
      queue,
      exclusive: true,
      arguments: { "x-dead-letter-exchange": "matcher.events.dlx", "x-message-ttl": 1 },
    });
    // Bound to the probe's key only: the service's own events (its audit records) stay out of it.
    await rabbit.queueBind({ queue, exchange: "matcher.events", routingKey: "discovery.test" });
    const pub = rabbit.createPublisher({ confirm: true });
    await pub.send({ exchange: "matcher.events", routingKey: "discovery.test" }, { probe: 1 });
    await waitFor("the expired message in the DLQ", async () => {
      const { messageCount } = await rabbit.queueDeclare({
        queue: "matcher.events.dlq",
        passive: true,
      });
      return messageCount === 1;
    });
    await pub.close();
  } finally {
    await rabbit.close();
    await w.close();
    await vhost.delete();
  }
});

Deno.test("a connection delete publishes its cancelled pulls' failures and connection.deleted, in the caller's trace", async () => {
  const vhost = await createVhost();
  // Bound before the service starts: its first events (the audit records) reach the queue too.
  const queue = await bindQueue(vhost.url());
  const w = await wirePluggy({}, {
    events: { amqpUrl: vhost.url(), relay: { pollMs: 100 } },
    pulls: { wake: false },
  });
  try {
    const queued = await w.h.request(
      `/v1/discovery/aggregator-connections/${w.connectionId}/pulls`,
      {
        method: "POST",
        tenant: w.tenant,
      },
    );
    const pullId = (await queued.json()).id;
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const res = await w.h.request(`/v1/discovery/aggregator-connections/${w.connectionId}`, {
      method: "DELETE",
      tenant: w.tenant,
      headers: { traceparent },
    });
    assert.equal(res.status, 204);
    // First the audit records of the connection's creation, its token and the pull request; then
    // the delete's own three events, in its one transaction and the caller's trace.
    await queue.until("six events", (m) => m.length === 6);
    const earlier = queue.messages.slice(0, 3);
    assert.deepEqual(earlier.map((m) => m.body.action), [
      "connection.created",
      "webhook_token.minted",
      "pull.requested",
    ]);
    const [failed, deleted, audited] = queue.messages.slice(3);
    for (const m of [failed, deleted, audited]) {
      assert.equal(m.headers.traceparent, traceparent, "the trace");
    }
    assert.equal(failed.routingKey, "discovery.pull.failed");
    assert.equal(failed.body.pullId, pullId);
    assert.equal(failed.body.status, "failed");
    assert.deepEqual((failed.body.error as Json).reason, "connection_deleted");
    assert.equal(deleted.routingKey, "discovery.connection.deleted");
    assert.equal(deleted.body.transactionsDeleted, 0);
    assert.equal(audited.routingKey, "discovery.audit_log_created");
    assert.equal(audited.body.action, "connection.deleted");
    assert.deepEqual(queue.messages.map((m) => m.body.sequence), [1, 2, 3, 4, 5, 6]);
  } finally {
    await queue.close();
    await w.close();
    await vhost.delete();
  }
});

Deno.test("without MATCHER_AMQP_URL a pull writes no outbox row", async () => {
  const w = await wirePluggy({ pageSize: 5 });
  try {
    const first = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await settle(w, first.body.pullId);
    assert.ok((await w.pull(first.body.pullId)).transactionsUpserted > 0);
    const [{ n }] = await w.h.sql`select count(*)::int as n from event_outbox`;
    const [{ heads }] = await w.h.sql`select count(*)::int as heads from event_outbox_heads`;
    assert.deepEqual([n, heads], [0, 0]);
    const ready = await (await w.h.request("/ready")).json();
    assert.deepEqual(ready.checks, { database: "ok", kv: "ok" }, "no broker to report");
  } finally {
    await w.close();
  }
});
