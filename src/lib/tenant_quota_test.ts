// Per-tenant quotas by class: exact on one replica, shared by two on one KV, refusals not counted.
import assert from "node:assert/strict";
import { jsonLogger } from "./logger.ts";
import { createTenantQuota } from "./tenant_quota.ts";

const MINUTE = 60_000;
const limits = { reads: 3, writes: 2 };

function quotaOn(kv: Deno.Kv, clock: { now: number }, lines: string[] = []) {
  return createTenantQuota(kv, {
    limits,
    now: () => clock.now,
    logger: jsonLogger((line) => lines.push(line)),
  });
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

  clock.now += 44_500; // half a second before the minute ends
  assert.deepEqual(await quota.take("a", "reads"), {
    allowed: false,
    limit: 3,
    remaining: 0,
    resetSeconds: 1,
  });
  clock.now += 1_000; // the next minute: whole again, and the refusals were not counted
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

Deno.test("requests read at the same moment may all pass, and each one that passed is counted", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { now: 3 * MINUTE };
  const quota = quotaOn(kv, clock);
  const answers = await Promise.all(Array.from({ length: 20 }, () => quota.take("a", "reads")));
  const allowed = answers.filter((a) => a.allowed).length;
  assert.ok(allowed >= 3, `${allowed} allowed`);
  const counted = await kv.get<Deno.KvU64>(["tenant_requests", 3, "reads", "a"]);
  assert.equal(Number(counted.value?.value), allowed);
  assert.equal((await quota.take("a", "reads")).allowed, false);
  await quota.close();
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
