// Per-tenant quotas by class: exact on one replica, shared by two on one KV, refusals not counted.
import assert from "node:assert/strict";
import { jsonLogger } from "./logger.ts";
import { createTenantQuota } from "./tenant_quota.ts";

const MINUTE = 60_000;
const limits = { reads: 3, writes: 2 };

/** A replica's quota whose counts are written only when a test calls `flush` (or `close`). */
function quotaOn(kv: Deno.Kv, clock: { now: number }, lines: string[] = []) {
  return createTenantQuota(kv, {
    limits,
    now: () => clock.now,
    logger: jsonLogger((line) => lines.push(line)),
    flushMs: 3_600_000,
  });
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
  await quota.flush();
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
  assert.equal(await stored(kv, 11, "a"), 1, "close writes what was taken");
});

Deno.test("counts not yet written, or written after a read, are counted by their replica", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { now: 3 * MINUTE };
  const quota = quotaOn(kv, clock);
  // At once, and one by one with the writes falling between the reads and their answers.
  const atOnce = await Promise.all(Array.from({ length: 2 }, () => quota.take("a", "reads")));
  const flushing = quota.flush();
  const next = quota.take("a", "reads");
  await flushing;
  const later = [await next, await quota.take("a", "reads"), await quota.take("a", "reads")];
  assert.deepEqual([...atOnce, ...later].map((a) => a.allowed), [true, true, true, false, false]);
  await quota.flush();
  assert.equal(await stored(kv, 3, "a"), 3);
  await quota.close();
});

/** `kv` whose commits answer `ms` after they are written, as a busy KV file's may. */
function lateCommitAnswers(kv: Deno.Kv, ms: number): Deno.Kv {
  return new Proxy(kv, {
    get(target, name) {
      if (name !== "atomic") {
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return () => {
        const op = target.atomic();
        const commit = op.commit.bind(op);
        op.commit = async () => {
          const result = await commit();
          await new Promise((r) => setTimeout(r, ms));
          return result;
        };
        return op;
      };
    },
  });
}

Deno.test("a read that already holds counts whose commit has not answered yet counts them once", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { now: 3 * MINUTE };
  const quota = quotaOn(lateCommitAnswers(kv, 50), clock);
  assert.equal((await quota.take("a", "reads")).remaining, 2);
  const flushing = quota.flush();
  await new Promise((r) => setTimeout(r, 10)); // written, not yet answered
  assert.equal(await stored(kv, 3, "a"), 1);
  assert.equal((await quota.take("a", "reads")).remaining, 1);
  await flushing;
  assert.equal((await quota.take("a", "reads")).remaining, 0);
  assert.equal((await quota.take("a", "reads")).allowed, false);
  await quota.close();
  assert.equal(await stored(kv, 3, "a"), 3);
});

Deno.test("two replicas on one KV share a tenant's quota once the counts are written", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = { now: 3 * MINUTE };
  const [one, two] = [quotaOn(kv, clock), quotaOn(kv, clock)];
  const allowed = [];
  for (let i = 0; i < 6; i++) {
    const replica = i % 2 ? two : one;
    allowed.push((await replica.take("a", "reads")).allowed);
    await replica.flush(); // what the background does within a tenth of a second
  }
  assert.deepEqual(allowed, [true, true, true, false, false, false]);
  // Before the counts are written, each replica knows only its own: together they pass the quota
  // by what the other took meanwhile, and no more than a quota each.
  const burst = await Promise.all(
    Array.from({ length: 10 }, (_, i) => (i % 2 ? two : one).take("b", "reads")),
  );
  assert.equal(burst.filter((a) => a.allowed).length, 6);
  await Promise.all([one.flush(), two.flush()]);
  assert.equal(await stored(kv, 3, "b"), 6, "every request let through is counted");
  assert.equal((await one.take("b", "reads")).allowed, false);
  await Promise.all([one.close(), two.close()]);
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
