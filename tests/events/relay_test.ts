// The relay against a broker stand-in that records and can refuse: only confirmed events are
// marked sent, a refused one is sent again with the same message id, and replicas on one
// database publish each event once, one at a time, the standby taking over when the leader stops.
import assert from "node:assert/strict";
import type postgres from "postgres";
import type { Broker, EventMessage, PublishOutcome } from "../../src/events/broker.ts";
import { appendEvents } from "../../src/events/events.repository.ts";
import { createRelay } from "../../src/events/relay.service.ts";
import { jsonLogger } from "../../src/lib/logger.ts";
import { type Harness, startHarness } from "../support/harness.ts";
import { waitFor } from "../support/service.ts";

/** A broker that confirms what `answer` lets through and remembers every attempt. */
class RecordingBroker implements Broker {
  connected = true;
  readonly attempts: { message: EventMessage; outcome: PublishOutcome }[] = [];
  constructor(readonly answer: (m: EventMessage) => PublishOutcome = () => "confirmed") {}
  get confirmed(): EventMessage[] {
    return this.attempts.filter((a) => a.outcome === "confirmed").map((a) => a.message);
  }
  publish(messages: EventMessage[]): Promise<PublishOutcome[]> {
    return Promise.resolve(messages.map((message) => {
      const outcome = this.answer(message);
      this.attempts.push({ message, outcome });
      return outcome;
    }));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Appends `n` events for each connection, one transaction per event, interleaved. */
async function writeEvents(h: Harness, connections: string[], n: number, tenantId: string) {
  for (let i = 0; i < n; i++) {
    for (const connectionId of connections) {
      await h.sql.begin((tx: postgres.TransactionSql) =>
        appendEvents(tx, { tenantId, connectionId }, [{
          routingKey: "discovery.test",
          body: { eventType: "discovery.test", connectionId, i },
        }])
      );
    }
  }
}

const quiet = jsonLogger(() => {});
const json = (m: EventMessage) => JSON.parse(new TextDecoder().decode(m.body));
const sequence = (m: EventMessage) => json(m).sequence as number;

async function unsent(h: Harness): Promise<number> {
  const [{ n }] = await h.sql`select count(*)::int as n from event_outbox where sent_at is null`;
  return n;
}

Deno.test("a refused event is not marked sent, and is published again with the same message id", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  let refusals = 0;
  const broker = new RecordingBroker((m) => {
    if (sequence(m) === 3 && refusals++ === 0) return "refused";
    return "confirmed";
  });
  const observed: PublishOutcome[] = [];
  const relay = createRelay({
    sql: h.sql,
    broker,
    logger: quiet,
    now: Date.now,
    pollMs: 50,
    backoff: { minMs: 10, maxMs: 50 },
    observe: (o) => observed.push(o),
  });
  try {
    const connection = crypto.randomUUID();
    await writeEvents(h, [connection], 6, crypto.randomUUID());
    relay.start();
    await waitFor("every event sent", async () => (await unsent(h)) === 0);
    const third = broker.attempts.filter((a) => sequence(a.message) === 3);
    assert.deepEqual(third.map((a) => a.outcome), ["refused", "confirmed"]);
    assert.equal(third[0].message.messageId, third[1].message.messageId, "the same message id");
    assert.deepEqual(third[0].message.body, third[1].message.body, "the same body");
    // The refused event held back every later one from being marked sent: they went again.
    const firstRound = broker.attempts.slice(0, 6).map((a) => a.outcome);
    assert.deepEqual(firstRound, [
      "confirmed",
      "confirmed",
      "refused",
      "confirmed",
      "confirmed",
      "confirmed",
    ]);
    const again = broker.attempts.slice(6).map((a) => sequence(a.message));
    assert.deepEqual(again, [3, 4, 5, 6]);
    assert.equal(observed.filter((o) => o === "refused").length, 1);
    const rows = await h.sql`select sequence::int, sent_at from event_outbox order by sequence`;
    for (let i = 1; i < rows.length; i++) {
      assert.ok(rows[i].sent_at >= rows[i - 1].sent_at, "marked sent in order");
    }
  } finally {
    await relay.stop();
    await h.close();
  }
});

Deno.test("with the broker disconnected the relay publishes nothing and marks nothing", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  const broker = new RecordingBroker();
  broker.connected = false;
  const relay = createRelay({
    sql: h.sql,
    broker,
    logger: quiet,
    now: Date.now,
    pollMs: 20,
    backoff: { minMs: 5, maxMs: 20 },
  });
  try {
    await writeEvents(h, [crypto.randomUUID()], 3, crypto.randomUUID());
    relay.start();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(broker.attempts.length, 0);
    assert.equal(await unsent(h), 3);
    broker.connected = true;
    await waitFor("every event sent", async () => (await unsent(h)) === 0);
    assert.deepEqual(broker.confirmed.map(sequence), [1, 2, 3]);
  } finally {
    await relay.stop();
    await h.close();
  }
});

Deno.test("two replicas' relays publish every event once, one at a time, and the standby takes over", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  const brokers = [new RecordingBroker(), new RecordingBroker()];
  const relays = brokers.map((broker) =>
    createRelay({
      sql: h.sql,
      broker,
      logger: quiet,
      now: Date.now,
      pollMs: 20,
      standbyMs: 50,
      batchSize: 7,
    })
  );
  try {
    const tenant = crypto.randomUUID();
    const connections = Array.from({ length: 5 }, () => crypto.randomUUID());
    await writeEvents(h, connections, 10, tenant);
    for (const relay of relays) relay.start();
    await waitFor("every event sent", async () => (await unsent(h)) === 0);
    await waitFor("one leader", () => relays.filter((r) => r.leading).length === 1);
    assert.equal(relays.filter((r) => r.leading).length, 1, "one publisher at a time");
    const leader = relays.findIndex((r) => r.leading);
    assert.equal(brokers[leader].attempts.length, 50);
    assert.equal(brokers[1 - leader].attempts.length, 0, "the standby published nothing");

    // The leader stops (a deploy, a crash): the standby takes the lock and publishes the rest.
    await relays[leader].stop();
    await writeEvents(h, connections, 4, tenant);
    await waitFor("the standby to publish the rest", async () => (await unsent(h)) === 0);
    assert.ok(relays[1 - leader].leading);
    assert.equal(brokers[1 - leader].attempts.length, 20);

    const all = brokers.flatMap((b) => b.confirmed);
    assert.equal(new Set(all.map((m) => m.messageId)).size, all.length, "no event published twice");
    // Each connection's events were confirmed in its order, 1 to 14.
    for (const connectionId of connections) {
      const own = all.filter((m) => json(m).connectionId === connectionId);
      assert.deepEqual(own.map(sequence), Array.from({ length: 14 }, (_, i) => i + 1));
    }
  } finally {
    for (const relay of relays) await relay.stop();
    await h.close();
  }
});
