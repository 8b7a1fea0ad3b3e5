// Per-tenant quotas by class: exact on one replica, shared by two on one KV, refusals not counted.
import assert from "node:assert/strict";
import { jsonLogger } from "./logger.ts";
import { createTenantQuota } from "./tenant_quota.ts";

const MINUTE = 60_000;
const limits = { reads: 3, writes: 2 };

/** The quota, and `take` answering the allowance once the count is in KV (as the middleware). */
function quotaOn(kv: Deno.Kv, clock: { now: number }, lines: string[] = []) {
  const quota = createTenantQuota(kv, {
    limits,
    now: () => clock.now,
    logger: jsonLogger((line) => lines.push(line)),
  });
  return {
    quota,
    async take(tenant: string, routeClass: "reads" | "writes") {
      const { allowance, counted } = await quota.take(tenant, routeClass);
      await counted;
      return allowance;
    },
    close: () => quota.close(),
  };
}

async function stored(kv: Deno.Kv, window: number, tenant: string): Promise<number> {
  const entry = await kv.get<Deno.KvU64>(["tenant_requests", window, "reads", tenant]);
  return Number(entry.value?.value ?? 0n);
}

Deno.test("a tenant gets its class's quota each minute, counted apart from other classes and tenants", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { now: 10 * MINUTE + 15_000 };
  const quota = quotaOn(kv, clock);
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await quota.take("a", "reads"));
  assert.deepEqual(answers.map((a) => [a.allowed, a.remaining]), [
    [true, 2],
    [true, 1],
    [true, 0],
    [false, 0],
    [false, 0],
  ]);
  assert.ok(answers.every((a) => a.limit === 3 && a.resetSeconds === 45));
  assert.equal((await quota.take("a", "writes")).remaining, 1, "writes have their own quota");
  assert.equal((await quota.take("b", "reads")).remaining, 2, "another tenant has its own");
  assert.equal(await stored(kv, 10, "a"), 3, "refusals are not counted");

  clock.now += 44_500; // half a second before the minute ends
  assert.deepEqual(await quota.take("a", "reads"), {
    allowed: false,
    limit: 3,
    remaining: 0,
    resetSeconds: 1,
  });
  clock.now += 1_000; // the next minute: whole again
  assert.equal((await quota.take("a", "reads")).remaining, 2);
  await quota.close();
});

Deno.test("two replicas on one KV share a tenant's quota", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { now: 3 * MINUTE };
  const [one, two] = [quotaOn(kv, clock), quotaOn(kv, clock)];
  const allowed = [];
  for (let i = 0; i < 6; i++) allowed.push((await (i % 2 ? two : one).take("a", "reads")).allowed);
  assert.deepEqual(allowed, [true, true, true, false, false, false]);
  await Promise.all([one.close(), two.close()]);
});

Deno.test("requests at the same moment on one replica are counted exactly", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { now: 3 * MINUTE };
  const { quota, close } = quotaOn(kv, clock);
  const taken = await Promise.all(Array.from({ length: 20 }, () => quota.take("a", "reads")));
  assert.equal(taken.filter((t) => t.allowance.allowed).length, 3);
  await Promise.all(taken.map((t) => t.counted));
  assert.equal(await stored(kv, 3, "a"), 3);
  await close();
});

Deno.test("while its counts are being written a replica may refuse early, never late", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { now: 3 * MINUTE };
  const { quota, take, close } = quotaOn(kv, clock);
  // Taken one after the other without waiting for the counts: a count still being written is
  // counted (perhaps twice, when the read already holds it), never missed.
  const taken = [];
  for (let i = 0; i < 6; i++) taken.push(await quota.take("a", "reads"));
  const early = taken.filter((t) => t.allowance.allowed).length;
  assert.ok(early >= 1 && early <= 3, `${early} allowed`);
  await Promise.all(taken.map((t) => t.counted));
  assert.equal(await stored(kv, 3, "a"), early);
  // Once they are written the count is exact again: the rest of the quota, no more.
  let later = 0;
  for (let i = 0; i < 4; i++) if ((await take("a", "reads")).allowed) later++;
  assert.equal(early + later, 3);
  await close();
});

Deno.test("without KV the quota lets requests through and warns once a minute", async () => {
  const kv = await Deno.openKv(":memory:");
  kv.close();
  const clock = { now: 3 * MINUTE };
  const lines: string[] = [];
  const quota = quotaOn(kv, clock, lines);
  for (let i = 0; i < 5; i++) assert.equal((await quota.take("a", "reads")).allowed, true);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /"msg":"rate limit not counted"/);
  clock.now += MINUTE;
  await quota.take("a", "reads");
  assert.equal(lines.length, 2);
  await quota.close();
});
