// Webhook token limits: exact on one replica, shared through KV by two, and the bound between.
import assert from "node:assert/strict";
import { createTokenLimits, TOKEN_COUNTS_PREFIX } from "./token_limits.ts";

const MINUTE = 60_000;

async function sharedCount(kv: Deno.Kv, window: number, tokenId: string): Promise<number> {
  const entry = await kv.get<Deno.KvU64>([TOKEN_COUNTS_PREFIX, window, tokenId]);
  return Number(entry.value?.value ?? 0n);
}

async function takeMany(limits: { take(id: string): Promise<{ allowed: boolean }> }, n: number) {
  let allowed = 0;
  for (let i = 0; i < n; i++) if ((await limits.take("t1")).allowed) allowed++;
  return allowed;
}

Deno.test("one replica takes exactly the token's quota a minute, and sends its count to KV", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { now: 7 * MINUTE + 20_000 };
  const limits = createTokenLimits(kv, { perMinute: 5, now: () => clock.now });
  const answers = [];
  for (let i = 0; i < 7; i++) answers.push(await limits.take("t1"));
  assert.deepEqual(answers.map((a) => [a.allowed, a.remaining]), [
    [true, 4],
    [true, 3],
    [true, 2],
    [true, 1],
    [true, 0],
    [false, 0],
    [false, 0],
  ]);
  assert.ok(answers.every((a) => a.limit === 5 && a.resetSeconds === 40));
  assert.equal((await limits.take("t2")).allowed, true, "each token has its own quota");
  await limits.sync();
  assert.equal(await sharedCount(kv, 7, "t1"), 5, "refused deliveries are not counted");
  assert.equal(await sharedCount(kv, 7, "t2"), 1);

  clock.now += MINUTE;
  assert.equal(await takeMany(limits, 7), 5, "the next minute is whole again");
  await limits.close();
  assert.equal(await sharedCount(kv, 8, "t1"), 5, "close sends what was counted");
});

Deno.test("a replica reads what the others counted before it takes a token's first delivery", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { now: 3 * MINUTE };
  const now = () => clock.now;
  const one = createTokenLimits(kv, { perMinute: 6, now });
  const two = createTokenLimits(kv, { perMinute: 6, now });
  assert.equal(await takeMany(one, 4), 4);
  await one.sync();
  assert.equal(await takeMany(two, 5), 2, "the second replica starts from the shared 4");
  await two.sync();
  clock.now += 1_001; // the first replica's view is stale now: it reads again before deciding
  assert.equal(await takeMany(one, 3), 0);
  await Promise.all([one.close(), two.close()]);
  assert.equal(await sharedCount(kv, 3, "t1"), 6);
});

Deno.test("replicas that take a token at once exceed its quota by what the others took meanwhile, at most", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { now: 3 * MINUTE };
  const now = () => clock.now;
  const replicas = [1, 2, 3].map(() => createTokenLimits(kv, { perMinute: 10, now }));
  // Each reads the shared count (0) first, then takes from its own view until it syncs.
  const allowed = await Promise.all(replicas.map((r) => takeMany(r, 8)));
  assert.deepEqual(allowed, [8, 8, 8], "each replica alone stays within the quota");
  await Promise.all(replicas.map((r) => r.sync()));
  assert.equal(await sharedCount(kv, 3, "t1"), 24, "every delivery taken is in the shared count");
  // Once synced, every replica sees the quota used up.
  assert.deepEqual(await Promise.all(replicas.map((r) => takeMany(r, 2))), [0, 0, 0]);
  clock.now += 2_000;
  assert.deepEqual(await Promise.all(replicas.map((r) => takeMany(r, 2))), [0, 0, 0]);
  await Promise.all(replicas.map((r) => r.close()));
});

Deno.test("without KV a replica decides from its own count alone", async () => {
  const kv = await Deno.openKv(":memory:");
  kv.close();
  const limits = createTokenLimits(kv, { perMinute: 3, now: () => 5 * MINUTE });
  assert.equal(await takeMany(limits, 5), 3);
  await limits.close();
});
