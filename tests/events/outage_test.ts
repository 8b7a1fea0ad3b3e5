// The broker down or refusing: pulls go on, the outbox grows, /ready stays 200 with the broker
// degraded, and once the broker is back the relay catches up with every event, in order.
import assert from "node:assert/strict";
import { connectAmqpBroker } from "../../src/events/amqp_broker.ts";
import { jsonLogger } from "../../src/lib/logger.ts";
import { parseExposition, samplesOf } from "../support/prometheus.ts";
import { deliver, wirePluggy } from "../support/pulls.ts";
import { bindQueue, BROKER, createVhost, type Received } from "../support/rabbitmq.ts";
import { waitFor } from "../support/service.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";
import type { Json } from "../support/vendor_calls.ts";

const METRICS_TOKEN = "m".repeat(40);
const AUDIT_KEY = "discovery.audit_log_created";

/** Every message once (a consumer de-duplicates on message_id), by connection sequence. */
function deduplicated(messages: Received[]): Received[] {
  const byId = new Map(messages.map((m) => [m.messageId, m]));
  return [...byId.values()].sort((a, b) =>
    (a.body.sequence as number) - (b.body.sequence as number)
  );
}

async function wireThroughProxy(proxyHost: string, vhostUrl: (host?: string) => string) {
  return await wirePluggy({ pageSize: 5 }, {
    metricsToken: METRICS_TOKEN,
    events: {
      broker: connectAmqpBroker({
        url: vhostUrl(proxyHost),
        logger: jsonLogger(() => {}),
        retryLowMs: 50,
        retryHighMs: 300,
        acquireTimeoutMs: 300,
      }),
      relay: { pollMs: 100, backoff: { minMs: 50, maxMs: 400 } },
    },
  });
}

async function metric(w: { h: { request: (p: string, i?: RequestInit) => Promise<Response> } }) {
  const res = await w.h.request("/metrics", {
    headers: { Authorization: `Bearer ${METRICS_TOKEN}` },
  });
  assert.equal(res.status, 200);
  return parseExposition(await res.text());
}

async function readiness(w: { h: { request: (p: string) => Promise<Response> } }) {
  const res = await w.h.request("/ready");
  assert.equal(res.status, 200, "ready whatever the broker does");
  return (await res.json()).checks as Json;
}

Deno.test("with the broker unreachable pulls go on, the outbox grows, and the relay catches up in order", async () => {
  const vhost = await createVhost();
  const proxy = startTcpProxy(BROKER);
  const w = await wireThroughProxy(proxy.host, vhost.url);
  const queue = await bindQueue(vhost.url());
  try {
    const pull = async (payload: object) => {
      const { body } = await deliver(w, payload);
      await waitFor("the pull", async () => (await w.pull(body.pullId)).status === "succeeded");
      return body.pullId as string;
    };
    await waitFor("the broker", async () => (await readiness(w)).broker === "ok");
    await pull(w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await queue.until(
      "the first pull's events",
      (m) => m.some((e) => e.routingKey === "discovery.pull.completed"),
    );

    proxy.cut();
    await waitFor(
      "the broker reported degraded",
      async () => (await readiness(w)).broker === "degraded",
    );
    const account = w.fake.items[0].accounts[0].id;
    const during: string[] = [];
    for (let i = 0; i < 3; i++) {
      const added = w.fake.addTransactions(account, 6);
      during.push(...added.map((t) => t.id));
      await pull(w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    }
    const seenBefore = queue.messages.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(queue.messages.length, seenBefore, "nothing reaches the broker meanwhile");
    const down = await metric(w);
    const pending = samplesOf(down, "matcher_outbox_pending")[0].value;
    assert.ok(pending >= 6, `the outbox holds the events meanwhile (${pending})`);
    assert.ok(samplesOf(down, "matcher_outbox_oldest_pending_age_seconds")[0].value > 0);

    proxy.restore();
    await waitFor("the broker back", async () => (await readiness(w)).broker === "ok");
    await queue.until("every event", (m) => deduplicated(m).length === seenBefore + pending);
    const events = deduplicated(queue.messages);
    // From the first the queue saw (the audit records of the connection's creation and its token
    // may have been published before the queue was bound).
    const first = events[0].body.sequence as number;
    assert.deepEqual(events.map((e) => e.body.sequence), events.map((_, i) => first + i), "no gap");
    // In order as they arrived, once each (duplicates of a message are allowed, reordering not).
    const firstArrival = [...new Map(queue.messages.map((m) => [m.messageId, m])).values()];
    const arrived = queue.messages.filter((m, i) =>
      queue.messages.findIndex((x) => x.messageId === m.messageId) === i
    ).map((m) => m.body.sequence as number);
    assert.deepEqual(arrived, [...arrived].sort((a, b) => a - b), "per-connection order kept");
    assert.equal(firstArrival.length, events.length);
    const published = events.flatMap((e) => (e.body.changes as Json[] | undefined) ?? [])
      .map((c) => c.externalId);
    for (const id of during) assert.ok(published.includes(id), `${id} was published`);
    // Marked sent just after the broker confirmed, so a moment after the consumer saw them.
    const up = await waitFor("nothing pending", async () => {
      const scraped = await metric(w);
      return samplesOf(scraped, "matcher_outbox_pending")[0].value === 0 && scraped;
    });
    assert.ok(
      samplesOf(up, "matcher_events_published_total", { outcome: "confirmed" })[0].value >=
        events.length,
    );
  } finally {
    await queue.close();
    await w.close();
    await proxy.close();
    await vhost.delete();
  }
});

Deno.test("with the broker refusing to take events, nothing is marked sent until it takes them", async () => {
  const vhost = await createVhost();
  const proxy = startTcpProxy(BROKER);
  const w = await wireThroughProxy(proxy.host, vhost.url);
  const queue = await bindQueue(vhost.url());
  try {
    await waitFor("the broker", async () => (await readiness(w)).broker === "ok");
    await vhost.allowPublishing(false);
    // A fresh connection (the permission is checked per channel, and cached on an open one).
    proxy.cut();
    proxy.restore();
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await waitFor("the pull", async () => (await w.pull(body.pullId)).status === "succeeded");
    await waitFor(
      "a refused publish",
      async () =>
        samplesOf(await metric(w), "matcher_events_published_total", { outcome: "refused" })[0]
          .value > 0,
    );
    // The pull's events; the audit records of the connection's creation and its token were
    // written (and perhaps published) before publishing was refused.
    const [before] = await w.h.sql`
      select count(*)::int as rows, count(sent_at)::int as sent from event_outbox
      where routing_key <> ${AUDIT_KEY}`;
    assert.ok(before.rows > 0);
    assert.equal(before.sent, 0, "a refused event is not marked sent");
    assert.equal(queue.messages.filter((m) => m.routingKey !== AUDIT_KEY).length, 0);
    assert.equal((await readiness(w)).broker, "ok", "connected, though refusing");

    await vhost.allowPublishing(true);
    await queue.until(
      "every event",
      (m) =>
        new Set(m.filter((e) => e.routingKey !== AUDIT_KEY).map((e) => e.messageId)).size ===
          before.rows,
    );
    await waitFor("every event marked sent", async () => {
      const [after] = await w.h.sql`
        select count(*)::int as unsent from event_outbox where sent_at is null`;
      return after.unsent === 0;
    });
  } finally {
    await queue.close();
    await w.close();
    await proxy.close();
    await vhost.delete();
  }
});
