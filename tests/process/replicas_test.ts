// Two service processes on one Postgres and one KV file take a burst of 1,000 webhooks for 50
// connections: every event is recorded once, every pull runs once on one replica, nothing twice.
import assert from "node:assert/strict";
import postgres from "postgres";
import { startFakeBelvo } from "../fakes/belvo.ts";
import { startFakePluggy } from "../fakes/pluggy.ts";
import { mulberry32, randomInt } from "../fakes/random.ts";
import { createSharedTestDatabase } from "../support/database.ts";
import { startService } from "../support/process.ts";
import { claimsIn, waitForPulls } from "../support/pull_claims.ts";
import {
  amountKey,
  type BurstTarget,
  forEachBounded,
  jsonLines,
  planBurst,
  type PlannedEvent,
  vendorListing,
} from "../support/replica_burst.ts";
import { sharedReplicas } from "../support/replicas.ts";

const SEED = 5;
const CONNECTIONS = 50; // half Pluggy items, half Belvo links
const TENANTS = 5;
/** Of each connection's 16 events, this many go to both replicas at once: 50 × (12 + 2 × 4). */
const RESENT = 4;
const IN_FLIGHT = 40; // events; with the resent ones about 50 deliveries in flight

type Service = Awaited<ReturnType<typeof startService>>;
type Answer = { replica: number; status: number; body: { status?: string; pullId?: string } };

Deno.test({
  name: "two replicas share a burst of 1,000 webhooks: each event once, each pull once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const db = await createSharedTestDatabase(t);
    if (!db) return;
    const random = mulberry32(SEED);
    const accounts = () =>
      Array.from({ length: randomInt(random, 2, 3) }, (_, i) => ({
        type: i === 1 ? "CREDIT" as const : "BANK" as const,
        category: i === 1 ? "CREDIT_CARD" as const : "CHECKING_ACCOUNT" as const,
        transactions: randomInt(random, 60, 140),
      }));
    const half = CONNECTIONS / 2;
    const pluggy = await startFakePluggy({
      seed: SEED,
      pageSize: 50, // several pages an account
      items: Array.from({ length: half }, () => ({ accounts: accounts() })),
    });
    const belvo = await startFakeBelvo({
      seed: SEED,
      links: Array.from({ length: half }, () => ({ accounts: accounts() })),
    });
    const { dir, env, jwt } = await sharedReplicas({
      databaseUrl: db.url,
      prefix: "matcher-replicas-",
      egressHosts: [pluggy.host, belvo.host],
      extra: { MATCHER_PULL_CONCURRENCY: "4" },
    });
    const sql = postgres(db.url, { max: 2, onnotice: () => {} });
    let replicas: Service[] = [];
    try {
      // Started together: the migrations' advisory lock lets one of them migrate.
      replicas = await Promise.all([0, 1].map((r) => startService(env(r), { direct: true })));
      const jwts = await Promise.all(
        Array.from({ length: TENANTS }, () => jwt(crypto.randomUUID())),
      );
      const api = async (replica: number, tenant: number, path: string, body?: unknown) => {
        const res = await fetch(`${replicas[replica].baseUrl}/v1/discovery${path}`, {
          method: body === undefined ? "GET" : "POST",
          headers: { Authorization: `Bearer ${jwts[tenant]}`, "Content-Type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: await res.json() };
      };

      // 50 connections, each created through one replica and its token minted through the other,
      // both replicas writing the KV file at the same time.
      const specs = Array.from({ length: CONNECTIONS }, (_, i) => {
        const n = Math.floor(i / 2);
        const other = (n + 1) % half; // a connection of the same vendor, for its stray events
        return i % 2 === 0
          ? { i, vendor: "pluggy" as const, ref: pluggy.items[n].id, other: pluggy.items[other].id }
          : { i, vendor: "belvo" as const, ref: belvo.links[n].id, other: belvo.links[other].id };
      });
      const connections = new Map<number, { id: string; path: string }>();
      await forEachBounded(specs, 10, async (s) => {
        const tenant = s.i % TENANTS;
        const created = await api(s.i % 2, tenant, "/aggregator-connections", {
          vendor: s.vendor,
          configName: `${s.vendor}-${s.i}`,
          baseUrl: s.vendor === "pluggy" ? pluggy.url : belvo.url,
          accountRef: s.ref,
          ...(s.vendor === "pluggy"
            ? { clientId: "fake-client-id", secret: "fake-client-secret" }
            : { clientId: "fake-secret-id", secret: "fake-secret-password" }),
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const minted = await api((s.i + 1) % 2, tenant, "/webhooks/tokens", {
          vendor: s.vendor,
          connection_config_name: `${s.vendor}-${s.i}`,
        });
        assert.equal(minted.status, 201, JSON.stringify(minted.body));
        const path = new URL(minted.body.webhookUrl).pathname;
        connections.set(s.i, { id: created.body.id, path });
      });
      for (const replica of [0, 1]) {
        for (const tenant of jwts.keys()) {
          const listed = await api(replica, tenant, "/webhooks/tokens?limit=100");
          assert.equal(listed.body.items.length, CONNECTIONS / TENANTS, "tokens of both replicas");
        }
      }

      // A first pull of every connection, asked through either replica: the history is stored.
      const holders = new Map<string, Set<string>>();
      await forEachBounded(specs, 10, async (s) => {
        const id = connections.get(s.i)!.id;
        const queued = await api(s.i % 2, s.i % TENANTS, `/aggregator-connections/${id}/pulls`, {});
        assert.equal(queued.status, 202);
      });
      await waitForPulls(sql, holders);
      const firstPulls = new Set((await sql`select id from pull_jobs`).map((j) => j.id));

      // Then the vendors change: new transactions, changed ones (Pluggy), deleted ones.
      const targets: BurstTarget[] = specs.map((s) => {
        const connection = connections.get(s.i)!.id;
        const createdFrom = new Date(Date.now() - 1_000).toISOString();
        const fake = s.vendor === "pluggy" ? pluggy : belvo;
        const accountId = s.vendor === "pluggy"
          ? pluggy.items[Math.floor(s.i / 2)].accounts[0].id
          : belvo.links[Math.floor(s.i / 2)].accounts[0].id;
        const known = s.vendor === "pluggy"
          ? pluggy.transactions(accountId).map((x) => x.id)
          : belvo.transactions(s.ref).filter((x) => x.account.id === accountId).map((x) => x.id);
        const [updatedIds, deletedIds] = [known.slice(0, 3), known.slice(3, 5)];
        fake.addTransactions(accountId, 60);
        // Belvo's sync reads from the watermark on: a change to an old transaction stays unseen.
        if (s.vendor === "pluggy") pluggy.updateTransactions(updatedIds);
        fake.deleteTransactions(deletedIds);
        const changes = { accountId, createdFrom, updatedIds, deletedIds };
        const base = { connection, accountRef: s.ref, otherRef: s.other, changes };
        return s.vendor === "pluggy"
          ? { ...base, vendor: "pluggy", fake: pluggy }
          : { ...base, vendor: "belvo", fake: belvo };
      });

      // The burst: 800 distinct events, 200 of them delivered to both replicas at the same time.
      const planned = planBurst(targets, RESENT, random);
      const pathOf = new Map([...connections.values()].map((c) => [c.id, c.path]));
      const answers = new Map<PlannedEvent, Answer[]>();
      const started = performance.now();
      await forEachBounded(planned, IN_FLIGHT, async (event) => {
        const sent = event.replicas.map(async (replica) => {
          const url = `${replicas[replica].baseUrl}${pathOf.get(event.target.connection)}`;
          const res = await fetch(url, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(event.payload),
          });
          return { replica, status: res.status, body: await res.json() };
        });
        answers.set(event, await Promise.all(sent));
      });
      await waitForPulls(sql, holders);
      const seconds = (performance.now() - started) / 1000;
      const deliveries = [...answers.values()].flat();
      assert.deepEqual([0, 1].map((r) => deliveries.filter((d) => d.replica === r).length), [
        500,
        500,
      ]);

      // Every delivery got a 2xx; of an event sent twice, one delivery recorded it.
      for (const [event, got] of answers) {
        const first = event.pulls ? "accepted" : "ignored";
        assert.ok(got.every((a) => a.status === 202), JSON.stringify(got));
        const statuses = got.map((a) => a.body.status).sort();
        assert.deepEqual(statuses, got.length === 2 ? [first, "duplicate"].sort() : [first]);
        const pullIds = new Set(got.map((a) => a.body.pullId ?? null));
        assert.equal(pullIds.size, 1, "a duplicate answers the first delivery's pull");
      }
      // Every distinct event is stored once, with the outcome and pull its delivery answered.
      const events = await sql`select connection_id, event_key, outcome, pull_id
                               from webhook_events`;
      assert.equal(events.length, planned.length);
      const stored = new Map(events.map((e) => [`${e.connection_id}/${e.event_key}`, e]));
      for (const [event, got] of answers) {
        const row = stored.get(`${event.target.connection}/${event.key}`);
        assert.ok(row, `event ${event.key} is stored`);
        assert.equal(row.outcome, event.pulls ? "accepted" : "ignored");
        assert.equal(row.pull_id, got[0].body.pullId ?? null);
      }

      // Every pull ran once, claimed by one replica, and each claimer held it alone.
      const jobs = await sql`select id, status, attempts, pages_fetched from pull_jobs`;
      for (const job of jobs) {
        assert.deepEqual({ status: job.status, attempts: job.attempts }, {
          status: "succeeded",
          attempts: 1,
        }, `pull ${job.id}`);
      }
      for (const r of replicas) {
        const health = await fetch(`${r.baseUrl}/health`);
        await health.body?.cancel();
        assert.equal(health.status, 200, "both replicas are still up");
      }
      const claims = replicas.map((r) => claimsIn(r.lines));
      const claimed = claims.map((c) => new Set(c.map((l) => l.jobId)));
      const owners = claims.map((c) => [...new Set(c.map((l) => l.owner))]);
      assert.deepEqual(owners.map((o) => o.length), [1, 1], "one lease owner a replica");
      assert.notEqual(owners[0][0], owners[1][0]);
      assert.equal(claims[0].length + claims[1].length, jobs.length, "one claim a pull");
      assert.deepEqual(
        [...claimed[0], ...claimed[1]].sort(),
        jobs.map((j) => j.id).sort(),
        "each pull claimed in exactly one replica's log",
      );
      assert.ok(
        claimed.every((c) => [...c].filter((id) => !firstPulls.has(id)).length > 0),
        "both replicas ran pulls of the burst",
      );
      assert.ok(holders.size > 0, "running pulls were seen");
      for (const [jobId, held] of holders) {
        const owner = owners[claimed[0].has(jobId) ? 0 : 1][0];
        assert.deepEqual([...held], [owner], `pull ${jobId} held only by its claimer`);
      }
      // Each page a pull stored was fetched from the vendor once: no replica walked it again.
      const fetched = pluggy.requests.filter((r) => /^\/(v2\/)?transactions$/.test(r.path)).length +
        belvo.requests.filter((r) => r.path === "/api/transactions/").length;
      const pages = jobs.reduce((sum, j) => sum + j.pages_fetched, 0);
      assert.equal(fetched, pages, "transaction pages fetched = pages stored");

      // No transaction stored twice, and each connection holds what its vendor lists.
      const [counts] = await sql`select count(*)::int as rows,
        count(distinct (connection_id, external_id))::int as distinct_rows from transactions`;
      assert.equal(counts.rows, counts.distinct_rows);
      for (const target of targets) {
        const rows = await sql`select external_id, amount from transactions
          where connection_id = ${target.connection} and deleted_at is null`;
        assert.deepEqual(
          rows.map((r) => amountKey(r.external_id, r.amount)).sort(),
          vendorListing(target),
          `connection ${target.connection} (${target.vendor}) holds what its vendor lists`,
        );
      }

      const exits = await Promise.all(replicas.map((r) => r.stop()));
      assert.deepEqual(exits.map((s) => s.code), [0, 0], "both stop cleanly");
      for (const [r, service] of replicas.entries()) {
        const bad = jsonLines(service.lines).filter((l) =>
          l.level !== "info" || (l.msg === "request" && (l.status as number) >= 500)
        );
        assert.deepEqual(bad, [], `replica ${r} logged no warning, no error and no 5xx`);
      }
      console.log(
        `replicas: ${deliveries.length} deliveries, ${firstPulls.size} first pulls and ` +
          `${jobs.length - firstPulls.size} from webhooks, claimed ${claimed[0].size} + ` +
          `${
            claimed[1].size
          } (${holders.size} seen running); ${counts.rows} transactions; burst to idle ${
            seconds.toFixed(1)
          } s`,
      );
    } finally {
      await Promise.all(replicas.map((r) => r.stop().catch(() => {})));
      await sql.end();
      await pluggy.close();
      await belvo.close();
      await db.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
