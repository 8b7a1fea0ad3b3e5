// A hostile or broken vendor: huge Retry-After, cycling or endless page links, permanent faults
// and malformed transactions end each pull with a clear outcome, never a crash or an endless run.
import assert from "node:assert/strict";
import { testClock, wirePluggy } from "../support/pulls.ts";
import { fakeAggregators } from "../support/vendors.ts";

const HOUR = 60 * 60_000;

Deno.test("a huge, far-off, negative or garbage Retry-After retries within the hour, never crashes", async (t) => {
  const clock = testClock();
  const w = await wirePluggy({}, (fake) => ({
    now: clock.now,
    pulls: { wake: false, random: () => 1 },
    aggregators: fakeAggregators([fake.host], { now: clock.now }),
  }));
  const cases: Array<[string, string, number]> = [
    ["delta seconds past any date", "9999999999999999", HOUR],
    ["more digits than a double holds", "9".repeat(400), HOUR],
    ["a date in the year 9999", "Fri, 31 Dec 9999 23:59:59 GMT", HOUR],
    // Not a Retry-After at all: the backoff's own first delay (30 s, the jitter at its top).
    ["a negative number", "-5", 30_000],
    ["garbage", "soon, maybe", 30_000],
  ];
  try {
    for (const [name, retryAfter, wait] of cases) {
      await t.step(name, async () => {
        w.fake.faults.add({
          path: "/accounts",
          fault: { status: 429, headers: { "Retry-After": retryAfter } },
        });
        const res = await w.h.request(
          `/v1/discovery/aggregator-connections/${w.connectionId}/pulls`,
          { method: "POST", tenant: w.tenant },
        );
        assert.equal(res.status, 202);
        const { id } = await res.json();
        await w.h.pool.drain();
        const pull = await w.pull(id);
        assert.equal(pull.status, "retrying", JSON.stringify(pull));
        assert.equal(pull.lastError.reason, "rate_limited");
        assert.equal(Date.parse(pull.nextAttemptAt) - clock.now(), wait);
        // The retry runs once due, and the pull finishes.
        clock.advance(wait);
        await w.h.sweep();
        assert.equal((await w.pull(id)).status, "succeeded");
      });
    }
  } finally {
    await w.close();
  }
});
