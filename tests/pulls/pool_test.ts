// The worker pool's claiming: a wake while every slot is busy must not stop later claims.
import assert from "node:assert/strict";
import { deliver, wirePluggy } from "../support/pulls.ts";

Deno.test("a pool woken while all its slots are busy claims the next pull once a slot frees", async () => {
  const w = await wirePluggy({}, { pulls: { concurrency: 1 } });
  try {
    const itemId = w.accountRef;
    // The first pull holds the only slot for a while, at the vendor's accounts list.
    w.fake.faults.add({ path: "/accounts", fault: { delayMs: 800 } });
    const first = await deliver(w, w.fake.webhooks.itemUpdated({ itemId }));
    assert.equal(first.body.status, "accepted");
    while (!w.fake.requests.some((r) => r.path === "/accounts")) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // Queued behind it; this webhook wakes the pool while its slot is taken.
    const second = await deliver(w, w.fake.webhooks.itemUpdated({ itemId }));
    assert.equal(second.body.status, "accepted");
    assert.notEqual(second.body.pullId, first.body.pullId);

    // Nothing polls in the harness: only the first pull's end can start the second.
    let pull = await w.pull(second.body.pullId);
    for (let i = 0; i < 200 && pull.status !== "succeeded"; i++) {
      await new Promise((r) => setTimeout(r, 25));
      pull = await w.pull(second.body.pullId);
    }
    assert.equal(pull.status, "succeeded");
    assert.equal((await w.pull(first.body.pullId)).status, "succeeded");
  } finally {
    await w.close();
  }
});
