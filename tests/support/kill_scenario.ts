// SIGKILL of the service mid-pull at chosen pages, restarts on the same database and KV, and the
// checks that the stored transactions then equal the vendor's, each written once.
import assert from "node:assert/strict";
import postgres from "postgres";
import { startFakePluggy } from "../fakes/pluggy.ts";
import { createTestDatabase } from "./database.ts";
import { createPluggyConnection, serviceSetup, tenantApi, waitFor } from "./service.ts";

export interface KillScenario {
  /** Transactions of each account of the one Pluggy item. */
  accounts: number[];
  /** The fake's /v2/transactions page size. */
  pageSize: number;
  /** Pages after which the service is killed, ascending, each below the pull's page count. */
  killAfterPages: number[];
  /** Seed of the fake's data. */
  seed: number;
  /** How long the fake takes for each page, so a kill lands before the next page is stored. */
  pageDelayMs?: number;
}

export interface KillReport {
  pages: number;
  transactions: number;
  /** pagesFetched as the database had it right after each kill. */
  killedAt: number[];
}

/** Runs the scenario to its end and asserts on it; answers what happened, for the log. */
export async function runKillScenario(scenario: KillScenario): Promise<KillReport> {
  const db = await createTestDatabase();
  const fake = await startFakePluggy({
    seed: scenario.seed,
    pageSize: scenario.pageSize,
    items: [{ accounts: scenario.accounts.map((transactions) => ({ transactions })) }],
  });
  const pages = scenario.accounts.reduce((n, t) => n + Math.ceil(t / scenario.pageSize), 0);
  const total = scenario.accounts.reduce((n, t) => n + t, 0);
  assert.ok(scenario.killAfterPages.every((k) => k > 0 && k < pages), "kills inside the pull");
  // Every page is slow, so the page after the one the test sees stored is still in flight when
  // the kill lands.
  fake.faults.add({
    path: "/v2/transactions",
    times: Infinity,
    fault: { delayMs: scenario.pageDelayMs ?? 150 },
  });
  const setup = await serviceSetup(db.url, [fake.host], {
    MATCHER_PULL_LEASE_SECONDS: "2",
    MATCHER_PULL_MAX_ATTEMPTS: String(scenario.killAfterPages.length + 3),
  });
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  let service = await setup.start();
  try {
    const api = await tenantApi(() => service.baseUrl, setup.secret);
    const itemId = fake.items[0].id;
    const connectionId = await createPluggyConnection(api, fake.url, itemId);
    const pull = await api.post(
      `/v1/discovery/aggregator-connections/${connectionId}/pulls`,
      {},
      202,
    );
    const pullId = pull.id as string;
    const job = async () => {
      const [row] = await sql`
        select status, pages_fetched, attempts, lease_expires_at < now() as expired
        from pull_jobs where id = ${pullId}`;
      return row;
    };

    const killedAt: number[] = [];
    for (const k of scenario.killAfterPages) {
      await waitFor(`page ${k} of the pull`, async () => (await job()).pages_fetched >= k, {
        intervalMs: 10,
      });
      const status = await service.stop("SIGKILL");
      assert.equal(status.signal, "SIGKILL");
      const killed = await job();
      assert.equal(killed.status, "running", "the kill caught the pull running");
      killedAt.push(killed.pages_fetched);
      // The restarted service's start-up sweep takes the job back once the dead one's lease ends.
      await waitFor("the killed worker's lease to run out", async () => (await job()).expired);
      service = await setup.start();
    }

    const done = await waitFor("the pull to finish", async () => {
      const body = await api.get(`/v1/discovery/pulls/${pullId}`);
      return body.status === "running" || body.status === "retrying" || body.status === "queued"
        ? undefined
        : body;
    }, { timeoutMs: 300_000, intervalMs: 100 });
    assert.equal(done.status, "succeeded", JSON.stringify(done));
    assert.equal(done.attempts, scenario.killAfterPages.length + 1);
    assert.equal(new Set(killedAt).size, killedAt.length, `distinct kill pages: ${killedAt}`);

    // Each page was stored once (a page is stored with its checkpoint, so none is fetched again
    // after a kill), and each transaction written once: an unchanged row fetched again is not
    // rewritten, so transactionsUpserted would exceed the total if a page had been redone.
    assert.equal(done.pagesFetched, pages);
    assert.equal(done.transactionsUpserted, total);

    const stored = await sql`
      select external_id, account_id, amount::text as amount, booking_date::text as date, raw,
        deleted_at
      from transactions where connection_id = ${connectionId}`;
    const vendor = fake.items[0].accounts.flatMap((a) => fake.transactions(a.id));
    assert.equal(vendor.length, total);
    assert.equal(stored.length, total, "as many rows as the vendor has transactions");
    const byId = new Map(stored.map((r) => [r.external_id as string, r]));
    assert.equal(byId.size, total, "no transaction stored twice");
    for (const t of vendor) {
      const row = byId.get(t.id);
      assert.ok(row, `transaction ${t.id} is stored`);
      assert.equal(row.account_id, t.accountId);
      assert.equal(Number(row.amount), t.type === "DEBIT" ? -Math.abs(t.amount) : t.amount);
      assert.equal(row.date, t.date.slice(0, 10));
      assert.deepEqual(row.raw, JSON.parse(JSON.stringify(t)), "the vendor's JSON as sent");
      assert.equal(row.deleted_at, null);
    }
    assert.equal((await service.stop()).code, 0);
    return { pages, transactions: total, killedAt };
  } finally {
    await service.stop().catch(() => {});
    await sql.end();
    await fake.close();
    await db.drop();
    await setup.cleanup();
  }
}
