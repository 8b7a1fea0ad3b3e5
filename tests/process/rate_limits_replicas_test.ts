// Two service processes on one database and one KV file share each tenant's quotas and each
// webhook token's: each replica exact, the count shared through KV, together within the bound.
import assert from "node:assert/strict";
import { TOKEN_COUNTS_PREFIX } from "../../src/webhooks/token_limits.ts";
import { startFakePluggy } from "../fakes/pluggy.ts";
import { createSharedTestDatabase } from "../support/database.ts";
import { startService } from "../support/process.ts";
import { sharedReplicas } from "../support/replicas.ts";
import { waitFor } from "../support/service.ts";

const API = "/v1/discovery";
const READS = 6;
const PER_TOKEN = 8;

type Service = Awaited<ReturnType<typeof startService>>;

/** Waits for a fresh minute when less than 25 s are left in this one: each part fits in one. */
async function earlyInAMinute(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 35_000) await new Promise((r) => setTimeout(r, 60_000 - into + 500));
}

Deno.test({
  name: "two replicas share each tenant's quotas, and each webhook token's within the bound",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const db = await createSharedTestDatabase(t);
    if (!db) return;
    const fake = await startFakePluggy();
    const { dir, kvPath, env, jwt } = await sharedReplicas({
      databaseUrl: db.url,
      prefix: "matcher-limits-",
      egressHosts: [fake.host],
      extra: {
        MATCHER_RATE_LIMIT_READS_PER_MINUTE: String(READS),
        MATCHER_RATE_LIMIT_WRITES_PER_MINUTE: "10",
        MATCHER_WEBHOOK_RATE_PER_TOKEN_PER_MINUTE: String(PER_TOKEN),
      },
    });
    let replicas: Service[] = [];
    const kv = await Deno.openKv(kvPath);
    try {
      replicas = await Promise.all([0, 1].map((r) => startService(env(r), { direct: true })));
      const tenantId = crypto.randomUUID();
      const burstId = crypto.randomUUID();
      const [tenant, other, burster] = await Promise.all(
        [tenantId, crypto.randomUUID(), burstId].map(jwt),
      );
      const call = async (replica: number, path: string, body?: unknown, as = tenant) => {
        const res = await fetch(`${replicas[replica].baseUrl}${API}${path}`, {
          method: body === undefined ? "GET" : "POST",
          headers: { Authorization: `Bearer ${as}`, "Content-Type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return {
          status: res.status,
          body: await res.json(),
          limit: res.headers.get("RateLimit"),
          retryAfter: res.headers.get("Retry-After"),
        };
      };

      // The connection and its tokens: writes, through either replica.
      const created = await call(0, "/aggregator-connections", {
        vendor: "pluggy",
        configName: "pluggy-main",
        baseUrl: fake.url,
        accountRef: fake.items[0].id,
        clientId: "fake-client-id",
        secret: "fake-client-secret",
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const mint = async (replica: number) => {
        const minted = await call(replica, "/webhooks/tokens", {
          vendor: "pluggy",
          connection_config_name: "pluggy-main",
        });
        assert.equal(minted.status, 201);
        const path = new URL(minted.body.webhookUrl).pathname;
        return { id: minted.body.id as string, path };
      };
      const [first, second] = [await mint(1), await mint(0)];

      /** A tenant's reads this minute in the shared KV. */
      const reads = async (id: string) => {
        let total = 0n;
        for await (const e of kv.list<Deno.KvU64>({ prefix: ["tenant_requests"] })) {
          if (e.key[2] === "reads" && e.key[3] === id) total += e.value.value;
        }
        return Number(total);
      };

      await t.step(
        "one replica serves exactly a tenant's reads; the other then serves none",
        async () => {
          await earlyInAMinute();
          const answers = [];
          for (let i = 0; i < READS + 1; i++) {
            answers.push(await call(0, "/aggregator-connections"));
          }
          assert.deepEqual(answers.map((a) => a.status), [...Array(READS).fill(200), 429]);
          assert.deepEqual(
            answers.slice(0, READS).map((a) => /r=(\d+)/.exec(a.limit!)?.[1]),
            ["5", "4", "3", "2", "1", "0"],
          );
          const refused = answers[READS];
          assert.equal(refused.body.code, "MTCH-1429");
          assert.ok(Number(refused.retryAfter) >= 1 && Number(refused.retryAfter) <= 60);
          // The count is written in the background, a commit after each answer.
          await waitFor("the reads in KV", async () => await reads(tenantId) === READS);
          const elsewhere = [await call(1, "/aggregator-connections"), await call(1, "/pulls/x")];
          assert.deepEqual(elsewhere.map((a) => a.status), [429, 429]);
          const theirs = await call(1, "/aggregator-connections", undefined, other);
          assert.equal(theirs.status, 200, "another tenant is not held back");
          assert.equal(
            (await call(0, "/webhooks/tokens", {
              vendor: "pluggy",
              connection_config_name: "pluggy-main",
            })).status,
            201,
            "the tenant's writes have their own quota",
          );
        },
      );

      await t.step(
        "reads to both at once: each replica within the quota, the sum counted",
        async () => {
          await earlyInAMinute();
          const answers = await Promise.all(
            Array.from(
              { length: 3 * READS },
              (_, i) => call(i % 2, "/aggregator-connections", undefined, burster),
            ),
          );
          const served = answers.filter((a) => a.status === 200).length;
          assert.ok(answers.every((a) => a.status === 200 || a.status === 429));
          assert.ok(served >= READS && served <= 2 * READS, `${served} served`);
          await waitFor(
            `the ${served} reads served in KV`,
            async () => await reads(burstId) === served,
          );
          const after = [await call(0, "/connector-types", undefined, burster)];
          after.push(await call(1, "/connector-types", undefined, burster));
          assert.deepEqual(
            after.map((a) => a.status),
            [429, 429],
          );
        },
      );

      const deliver = async (replica: number, path: string) => {
        const res = await fake.sendWebhook(
          `${replicas[replica].baseUrl}${path}`,
          fake.webhooks.itemUpdated({ itemId: fake.items[0].id }),
        );
        await res.body?.cancel();
        return res.status;
      };
      /** The token's count in the shared KV, summed over windows (the part runs in one). */
      const shared = async (tokenId: string) => {
        let total = 0n;
        for await (const e of kv.list<Deno.KvU64>({ prefix: [TOKEN_COUNTS_PREFIX] })) {
          if (e.key[2] === tokenId) total += e.value.value;
        }
        return Number(total);
      };

      await t.step(
        "one replica takes exactly a token's quota; the other then takes none",
        async () => {
          await earlyInAMinute();
          const statuses = [];
          for (let i = 0; i < PER_TOKEN + 1; i++) statuses.push(await deliver(0, first.path));
          assert.deepEqual(statuses, [...Array(PER_TOKEN).fill(202), 429]);
          // The first replica adds its count to KV in the background, within a quarter second.
          await waitFor(
            "the first replica's count in KV",
            async () => await shared(first.id) === PER_TOKEN,
          );
          const elsewhere = [];
          for (let i = 0; i < 3; i++) {
            elsewhere.push(await deliver(1, first.path));
          }
          assert.deepEqual(elsewhere, [429, 429, 429]);
        },
      );

      await t.step(
        "deliveries to both at once: each replica within the quota, the sum counted",
        async () => {
          await earlyInAMinute();
          const statuses = await Promise.all(
            Array.from({ length: 3 * PER_TOKEN }, (_, i) => deliver(i % 2, second.path)),
          );
          const accepted = statuses.filter((s) => s === 202).length;
          assert.ok(statuses.every((s) => s === 202 || s === 429), statuses.join(","));
          // Each replica alone never passes the quota; together they pass it by at most what the
          // other took before the shared count reached it.
          assert.ok(accepted >= PER_TOKEN && accepted <= 2 * PER_TOKEN, `${accepted} accepted`);
          await waitFor(
            `every one of the ${accepted} accepted deliveries in KV`,
            async () => await shared(second.id) === accepted,
          );
          await new Promise((r) => setTimeout(r, 1_100)); // each replica's view is stale: read again
          assert.deepEqual([await deliver(0, second.path), await deliver(1, second.path)], [
            429,
            429,
          ]);
        },
      );

      for (const replica of replicas) assert.equal((await replica.stop()).code, 0);
    } finally {
      kv.close();
      await Promise.all(replicas.map((r) => r.stop().catch(() => {})));
      await fake.close();
      await db.drop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
