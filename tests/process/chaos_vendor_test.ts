// Vendor fault storms against the real service process: pulls retry and finish, or end dead with
// the reason, while the process keeps answering /health and other tenants' requests.
import assert from "node:assert/strict";
import postgres from "postgres";
import type { Fault } from "../fakes/faults.ts";
import { type FakePluggy, startFakePluggy } from "../fakes/pluggy.ts";
import { createTestDatabase } from "../support/database.ts";
import {
  createPluggyConnection,
  type Service,
  serviceSetup,
  tenantApi,
  waitFor,
} from "../support/service.ts";

const MAX_ATTEMPTS = 4;
const RETRY_AFTER_SECONDS = 600;

/** Each fault kind, where it strikes, and the pull error reason it must end with. */
const KINDS: Array<{ name: string; path: string; fault: Fault; reason: string }> = [
  {
    name: "429 storm with Retry-After",
    path: "/v2/transactions",
    fault: { status: 429, headers: { "Retry-After": String(RETRY_AFTER_SECONDS) } },
    reason: "rate_limited",
  },
  { name: "5xx", path: "/accounts", fault: { status: 503 }, reason: "vendor_unreachable" },
  {
    name: "hang past the timeout",
    path: "/v2/transactions",
    fault: { delayMs: 20_000 },
    reason: "timeout",
  },
  {
    name: "connection reset mid-body",
    path: "/v2/transactions",
    fault: { reset: true },
    reason: "vendor_unreachable",
  },
  {
    name: "truncated JSON",
    path: "/accounts",
    fault: { truncate: true },
    reason: "unexpected_response",
  },
  {
    name: "oversized body",
    path: "/v2/transactions",
    fault: { oversizeBytes: 300_000 },
    reason: "unexpected_response",
  },
];

interface Case {
  name: string;
  fake: FakePluggy;
  /** True: the fault never stops, so the pull must end dead. */
  endless: boolean;
  reason: string;
  connectionId?: string;
  pullId?: string;
}

Deno.test({
  name: "vendor fault storms: pulls retry and finish or end dead, and the service stays up",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const db = await createTestDatabase();
    const cases: Case[] = [];
    for (const kind of KINDS) {
      for (const endless of [false, true]) {
        const fake = await startFakePluggy({ seed: cases.length + 1, pageSize: 10 });
        // Transient: every attempt but the last fails; endless: every attempt fails. A pull walks
        // its accounts at once, so a transactions fault strikes one account (one request an
        // attempt), not whichever walk asks first.
        const account = fake.items[0].accounts[0].id;
        fake.faults.add({
          path: kind.path,
          query: kind.path === "/v2/transactions" ? { accountId: account } : undefined,
          fault: kind.fault,
          times: endless ? Infinity : MAX_ATTEMPTS - 1,
        });
        cases.push({
          name: `${kind.name} (${endless ? "endless" : "passing"})`,
          fake,
          endless,
          reason: kind.reason,
        });
      }
    }
    // A vendor that is not there at all: every connection refused.
    const gone = await startFakePluggy({ seed: 99 });
    await gone.close();
    cases.push({
      name: "connection refused (endless)",
      fake: gone,
      endless: true,
      reason: "vendor_unreachable",
    });
    const healthy = await startFakePluggy({ seed: 100, pageSize: 10 });

    const setup = await serviceSetup(db.url, [...cases.map((c) => c.fake.host), healthy.host], {
      MATCHER_PULL_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      MATCHER_VENDOR_TIMEOUT_MS: "1500",
      MATCHER_VENDOR_CONNECT_TIMEOUT_MS: "500",
      MATCHER_VENDOR_MAX_RESPONSE_BYTES: "100000",
    });
    const sql = postgres(db.url, { max: 2, onnotice: () => {} });
    let service: Service | undefined = await setup.start();
    const base = () => service!.baseUrl;
    let stormOver = false;
    let hurry: Promise<void> = Promise.resolve();
    let traffic: Promise<void> = Promise.resolve();
    try {
      const storm = await tenantApi(base, setup.secret);
      for (const [i, c] of cases.entries()) {
        c.connectionId = await createPluggyConnection(
          storm,
          c.fake.url,
          c.fake.items[0].id,
          `storm-${i}`,
        );
      }
      const other = await tenantApi(base, setup.secret);
      const otherConnection = await createPluggyConnection(other, healthy.url, healthy.items[0].id);

      for (const c of cases) {
        const pull = await storm.post(
          `/v1/discovery/aggregator-connections/${c.connectionId}/pulls`,
          {},
          202,
        );
        c.pullId = pull.id as string;
      }

      // Retries wait 30 s and more (and as long as Retry-After asks): the test makes every
      // retrying job due now by moving its next_attempt_at, and the pool, polling each second,
      // claims it. Each wait it moved is kept to check that Retry-After was honoured.
      const waits = new Map<string, number[]>();
      hurry = (async () => {
        while (!stormOver) {
          const moved = await sql`
            update pull_jobs j set next_attempt_at = now()
            from (select id, next_attempt_at from pull_jobs
                  where status = 'retrying' and next_attempt_at > now() for update) old
            where j.id = old.id
            returning j.id, extract(epoch from old.next_attempt_at - now())::float8 as wait`;
          for (const m of moved) waits.set(m.id, [...(waits.get(m.id) ?? []), m.wait]);
          await new Promise((r) => setTimeout(r, 200));
        }
      })();

      // Meanwhile another tenant keeps using the service, and /health keeps answering.
      const otherAnswers: string[] = [];
      traffic = (async () => {
        let n = 0;
        while (!stormOver) {
          const health = await fetch(`${base()}/health`);
          otherAnswers.push(`health ${health.status}`);
          await health.body?.cancel();
          const list = await other.request("GET", "/v1/discovery/aggregator-connections");
          otherAnswers.push(`list ${list.status}`);
          await list.body?.cancel();
          const created = await other.request("POST", "/v1/discovery/aggregator-connections", {
            vendor: "pluggy",
            configName: `other-${n++}`,
            baseUrl: healthy.url,
            accountRef: healthy.items[0].id,
            clientId: "fake-client-id",
            secret: "fake-client-secret",
          });
          otherAnswers.push(`create ${created.status}`);
          await created.body?.cancel();
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const otherPull = await other.post(
        `/v1/discovery/aggregator-connections/${otherConnection}/pulls`,
        {},
        202,
      );

      let last = "";
      const finished = await waitFor(() => `every storm pull to finish: ${last}`, async () => {
        const rows = await sql`
          select id, status, attempts, last_error, transactions_upserted from pull_jobs
          where tenant_id = ${storm.tenant}`;
        last = JSON.stringify(rows.map((r) => {
          const c = cases.find((c) => c.pullId === r.id);
          return [c?.name, r.status, r.attempts, r.last_error?.reason];
        }));
        return rows.every((r) => ["succeeded", "failed", "dead"].includes(r.status)) &&
          new Map(rows.map((r) => [r.id as string, r]));
      }, { timeoutMs: 60_000, intervalMs: 200 });
      const otherDone = await waitFor("the other tenant's pull", async () => {
        const p = await other.get(`/v1/discovery/pulls/${otherPull.id}`);
        return p.status === "succeeded" && p;
      });
      stormOver = true;
      await Promise.all([hurry, traffic]);

      for (const c of cases) {
        const job = finished.get(c.pullId!)!;
        assert.equal(
          job.status,
          c.endless ? "dead" : "succeeded",
          `${c.name}: ${JSON.stringify(job)}`,
        );
        assert.equal(job.attempts, MAX_ATTEMPTS, c.name);
        if (c.endless) {
          assert.equal(job.last_error?.reason, c.reason, `${c.name}: ${JSON.stringify(job)}`);
        } else {
          assert.equal(job.transactions_upserted, 35, c.name);
          const [{ n }] = await sql`
            select count(*)::int as n from transactions where connection_id = ${c.connectionId!}`;
          assert.equal(n, 35, `${c.name}: every transaction stored once`);
        }
      }
      for (const c of cases.filter((c) => c.name.startsWith("429"))) {
        const moved = waits.get(c.pullId!) ?? [];
        assert.equal(moved.length, MAX_ATTEMPTS - 1, `${c.name}: waited before each retry`);
        assert.ok(moved.every((w) => w > RETRY_AFTER_SECONDS - 60), `${c.name}: ${moved}`);
      }
      assert.equal(otherDone.transactionsUpserted, 35);
      assert.ok(otherAnswers.length >= 6, "the other tenant's traffic ran during the storm");
      const unexpected = otherAnswers.filter((a) =>
        !["health 200", "list 200", "create 201"].includes(a)
      );
      assert.deepEqual(unexpected, [], "every answer to the other tenant was normal");

      const running = service;
      service = undefined;
      const exit = await running.stop();
      assert.equal(exit.code, 0, "the process was still up and stopped cleanly");
      const crashed = running.lines.filter((l) => /pull run crashed|uncaught|panic/i.test(l));
      assert.deepEqual(crashed, []);
    } catch (err) {
      // On a failure the service's own log (its request lines left out) tells what it did.
      stormOver = true;
      await Promise.allSettled([hurry, traffic]);
      await service?.stop().catch(() => {});
      console.log(
        service?.lines.filter((l) => !l.includes(`"msg":"request"`)).slice(-60).join("\n"),
      );
      throw err;
    } finally {
      stormOver = true;
      await Promise.allSettled([hurry, traffic]);
      await service?.stop().catch(() => {});
      await sql.end();
      for (const c of cases) await c.fake.close();
      await healthy.close();
      await db.drop();
      await setup.cleanup();
    }
  },
});
