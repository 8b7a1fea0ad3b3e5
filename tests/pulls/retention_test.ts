// The sweep's retention: old webhook events and finished pulls go; transactions and live jobs stay.
import assert from "node:assert/strict";
import { deliver, testClock, wirePluggy } from "../support/pulls.ts";

const DAY = 86_400_000;

Deno.test("the sweep deletes webhook events and finished pulls past retention, nothing else", async () => {
  const clock = testClock();
  const w = await wirePluggy({}, {
    now: clock.now,
    pulls: { wake: false, retentionMs: 30 * DAY, maxAttempts: 1 },
  });
  try {
    const old = w.fake.webhooks.itemUpdated({ itemId: w.accountRef });
    const first = await deliver(w, old);
    await w.h.pool.drain();
    assert.equal((await w.pull(first.body.pullId)).status, "succeeded");
    const stored = (await w.transactions()).length;
    assert.ok(stored > 0);

    // A pull that dies, 10 days later.
    clock.advance(10 * DAY);
    w.fake.faults.add({ path: "/v2/transactions", fault: { status: 500 } });
    const dying = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    await w.h.pool.drain();
    assert.equal((await w.pull(dying.body.pullId)).status, "dead");
    w.fake.faults.clear();

    // 25 days after the first: nothing is old enough yet.
    clock.advance(15 * DAY);
    const queued = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    // Not due for a year, so the sweep's drain leaves it queued.
    await w.h.sql`update pull_jobs set next_attempt_at = now() + interval '1 year'
                  where id = ${queued.body.pullId}`;
    assert.deepEqual((await w.h.sweep()).pruned, { webhookEvents: 0, pulls: 0 });

    // 31 days after the first: the first event and its pull go, the dead one (21 days) stays, the
    // queued job stays however old it is, and the transactions stay.
    clock.advance(6 * DAY);
    assert.deepEqual((await w.h.sweep()).pruned, { webhookEvents: 1, pulls: 1 });
    await w.get(`/v1/discovery/pulls/${first.body.pullId}`, 404);
    assert.equal((await w.pull(dying.body.pullId)).status, "dead");
    assert.equal((await w.pull(queued.body.pullId)).status, "queued");
    assert.equal((await w.transactions()).length, stored);
    const [{ events }] = await w.h.sql`select count(*)::int as events from webhook_events`;
    assert.equal(events, 2);
    assert.ok(w.h.logs.some((l) => l.includes('"pruned history"')));

    // Past retention, a vendor's late re-delivery of the first event is new again: one more pull.
    const again = await deliver(w, old);
    assert.equal(again.body.status, "accepted");
  } finally {
    await w.close();
  }
});
