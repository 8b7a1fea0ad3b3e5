// The sweep with events on: published events past the retention are deleted (unsent ones never),
// and a pull it declares dead (its worker gone with no attempt left) gets its pull.failed event.
import assert from "node:assert/strict";
import type { Broker, EventMessage, PublishOutcome } from "../../src/events/broker.ts";
import { deliver, testClock, wirePluggy } from "../support/pulls.ts";
import { waitFor } from "../support/service.ts";

const DAY = 86_400_000;

/** Confirms everything while `open`, fails everything otherwise. */
class SwitchBroker implements Broker {
  open = true;
  readonly confirmed: EventMessage[] = [];
  get connected() {
    return this.open;
  }
  publish(messages: EventMessage[]): Promise<PublishOutcome[]> {
    if (!this.open) return Promise.resolve(messages.map(() => "failed" as const));
    this.confirmed.push(...messages);
    return Promise.resolve(messages.map(() => "confirmed" as const));
  }
  close() {
    return Promise.resolve();
  }
}

Deno.test("the sweep deletes events published before the retention and never an unsent one", async () => {
  const clock = testClock();
  const broker = new SwitchBroker();
  const w = await wirePluggy({}, {
    now: clock.now,
    pulls: { wake: false, retentionMs: 30 * DAY },
    events: { broker, relay: { pollMs: 20 } },
  });
  try {
    await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    const unsent = async () => {
      const [r] = await w.h.sql`select count(*)::int as n from event_outbox where sent_at is null`;
      return r.n as number;
    };
    await waitFor("the first pull's events sent", async () => (await unsent()) === 0);
    const [{ published }] = await w.h.sql`select count(*)::int as published from event_outbox`;

    // The broker goes away; a second pull's events wait, unsent, for 31 days.
    broker.open = false;
    clock.advance(DAY);
    await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    w.fake.addTransactions(w.fake.items[0].accounts[0].id, 3);
    await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    const waiting = await unsent();
    assert.ok(waiting > 0);

    clock.advance(29 * DAY);
    await w.h.sweep();
    const [{ kept }] = await w.h.sql`select count(*)::int as kept from event_outbox`;
    assert.equal(kept, published + waiting, "nothing is old enough yet");
    clock.advance(2 * DAY);
    await w.h.sweep();
    const rows = await w.h.sql`select sent_at from event_outbox`;
    assert.equal(rows.length, waiting, "the published events went");
    assert.ok(rows.every((r) => r.sent_at === null), "every unsent event stayed");
    assert.ok(w.h.logs.some((l) => l.includes('"pruned published events"')));
  } finally {
    await w.close();
  }
});

Deno.test("a pull the sweep declares dead after its worker vanished gets its pull.failed event", async () => {
  const clock = testClock();
  const broker = new SwitchBroker();
  const w = await wirePluggy({}, {
    now: clock.now,
    pulls: { wake: false, maxAttempts: 1, leaseMs: 60_000 },
    events: { broker, relay: { pollMs: 20 } },
  });
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    // A worker claimed it and vanished: running, its lease run out, no attempt left.
    await w.h.sql`
      update pull_jobs set status = 'running', attempts = 1, lease_owner = 'gone',
        lease_expires_at = ${new Date(clock.now() - 1_000)}, next_attempt_at = null
      where id = ${body.pullId}`;
    await w.h.sweep();
    assert.equal((await w.pull(body.pullId)).status, "dead");
    await waitFor(
      "the pull.failed event",
      () => broker.confirmed.some((m) => m.routingKey === "discovery.pull.failed"),
    );
    const failed = JSON.parse(new TextDecoder().decode(
      broker.confirmed.find((m) => m.routingKey === "discovery.pull.failed")!.body,
    ));
    assert.equal(failed.pullId, body.pullId);
    assert.equal(failed.status, "dead");
    assert.equal(failed.error.reason, "worker_lost");
    // After the connection's first two events: the audit records of its creation and its token.
    assert.equal(failed.sequence, 3);
  } finally {
    await w.close();
  }
});
