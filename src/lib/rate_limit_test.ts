// Several sliding windows taken together: all or none, and the longest wait reported.
import assert from "node:assert/strict";
import { createRateLimiter, type RateWindow } from "./rate_limit.ts";

Deno.test("a request refused by one window spends nothing in the others", async () => {
  const kv = await Deno.openKv(":memory:");
  let clock = 1_000_000;
  try {
    const take = createRateLimiter(kv, () => clock);
    const small: RateWindow = { key: ["small"], limit: 1, windowMs: 60_000 };
    const large: RateWindow = { key: ["large"], limit: 3, windowMs: 60_000 };
    assert.deepEqual(await take([small, large]), { allowed: true });
    clock += 10_000;
    const refused = await take([small, large]);
    assert.deepEqual(refused, { allowed: false, retryAfterSeconds: 50, window: small });
    // `large` holds one request, not two: two more fit.
    assert.equal((await take([large])).allowed, true);
    assert.equal((await take([large])).allowed, true);
    const full = await take([large]);
    assert.equal(full.allowed, false);
    assert.equal((await kv.get<number[]>(["large"])).value?.length, 3);
  } finally {
    kv.close();
  }
});

Deno.test("when several windows are full, the answer waits for the one that frees last", async () => {
  const kv = await Deno.openKv(":memory:");
  let clock = 1_000_000;
  try {
    const take = createRateLimiter(kv, () => clock);
    const early: RateWindow = { key: ["early"], limit: 1, windowMs: 10_000 };
    const late: RateWindow = { key: ["late"], limit: 1, windowMs: 60_000 };
    await take([early, late]);
    clock += 1_000;
    assert.deepEqual(await take([early, late]), {
      allowed: false,
      retryAfterSeconds: 59,
      window: late,
    });
  } finally {
    kv.close();
  }
});
