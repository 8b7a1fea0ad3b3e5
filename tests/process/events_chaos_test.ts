// End to end: a storm of created, updated and deleted webhooks on three connections while the
// service is killed with SIGKILL mid-pull three times and its broker connection is cut and
// restored; afterwards a consumer of the change feed and a consumer of matcher.events (de-
// duplicating on message_id) each hold exactly the vendor's live transactions, latest values.
import assert from "node:assert/strict";
import postgres from "postgres";
import type { components } from "../../generated/types.ts";
import { startFakePluggy } from "../fakes/pluggy.ts";
import { mulberry32, pick, randomInt } from "../fakes/random.ts";
import { createTestDatabase } from "../support/database.ts";
import { catchUp, FeedCopy } from "../support/feed.ts";
import { bindQueue, BROKER, createVhost, type Received } from "../support/rabbitmq.ts";
import {
  createPluggyConnection,
  type Service,
  serviceSetup,
  tenantApi,
  waitFor,
  webhookPath,
} from "../support/service.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";

type Change = components["schemas"]["TransactionChange"];
type Transaction = components["schemas"]["Transaction"];

const SEED = Number(Deno.env.get("CHAOS_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A bus consumer's copy: each event once (by message_id), each row at its newest event. */
class BusCopy {
  readonly live = new Map<string, Transaction>();
  /** Row id, or connection id for connection.deleted → the event sequence that set it. */
  readonly version = new Map<string, number>();
  readonly seen = new Set<string>();
  duplicates = 0;

  apply(m: Received): void {
    if (this.seen.has(m.messageId)) {
      this.duplicates++;
      return;
    }
    this.seen.add(m.messageId);
    const sequence = m.body.sequence as number;
    if (m.routingKey === "discovery.connection.deleted") {
      for (const [id, t] of this.live) {
        if (t.connectionId === m.body.connectionId) this.live.delete(id);
      }
      return;
    }
    if (m.routingKey !== "discovery.transactions.changed") return;
    for (const change of m.body.changes as Change[]) {
      // A redelivered older event must not undo a newer change of the same row.
      if ((this.version.get(change.id) ?? 0) >= sequence) continue;
      this.version.set(change.id, sequence);
      if (change.change === "deleted") this.live.delete(change.id);
      else this.live.set(change.id, change.transaction!);
    }
  }
}

Deno.test({
  name:
    `a webhook storm with kill -9s and a broker outage ends with the vendor's set in the feed and on the bus (CHAOS_SEED=${SEED})`,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    console.log(`CHAOS_SEED=${SEED}`);
    const random = mulberry32(SEED);
    const db = await createTestDatabase();
    const vhost = await createVhost();
    const proxy = startTcpProxy(BROKER);
    const fake = await startFakePluggy({
      seed: SEED,
      pageSize: 5,
      items: Array.from({ length: 3 }, () => ({
        accounts: [{ transactions: 30 }, { type: "CREDIT" as const, transactions: 20 }],
      })),
    });
    // Slow pages, so that kills land mid-pull.
    fake.faults.add({ path: "/v2/transactions", times: Infinity, fault: { delayMs: 40 } });
    const setup = await serviceSetup(db.url, [fake.host], {
      MATCHER_AMQP_URL: vhost.url(proxy.host),
      MATCHER_PULL_LEASE_SECONDS: "2",
      MATCHER_PULL_MAX_ATTEMPTS: "30",
      MATCHER_PULL_WEBHOOK_DELAY_MS: "200",
    });
    const bus = await bindQueue(vhost.url());
    const sql = postgres(db.url, { max: 2, onnotice: () => {} });
    let service: Service = await setup.start();
    try {
      const api = await tenantApi(() => service.baseUrl, setup.secret);
      const connections: { itemId: string; accounts: string[]; path: string }[] = [];
      for (const [i, item] of fake.items.entries()) {
        await createPluggyConnection(api, fake.url, item.id, `pluggy-${i}`);
        connections.push({
          itemId: item.id,
          accounts: item.accounts.map((a) => a.id),
          path: await webhookPath(api, `pluggy-${i}`),
        });
      }

      /** Delivers until the service acknowledges it, as a vendor retries a failed delivery. */
      let acknowledged = 0;
      const send = async (path: string, payload: object) => {
        for (;;) {
          try {
            const res = await fake.sendWebhook(`${service.baseUrl}${path}`, payload);
            if (res.status === 202) {
              acknowledged++;
              return;
            }
          } catch {
            // the service is down: try again
          }
          await sleep(100);
        }
      };

      // The feed consumer follows throughout, tolerating the service's absences.
      const feed = new FeedCopy();
      let storming = true;
      const feedGet = async (query: string) => {
        const res = await api.request("GET", `/v1/discovery/transactions/changes?${query}`);
        return { status: res.status, body: await res.json() };
      };
      const following = (async () => {
        while (storming) {
          await catchUp(feedGet, feed, { limit: 50, maxPages: 5 }).catch(() => {});
          await sleep(50);
        }
      })();

      for (const c of connections) {
        await send(c.path, fake.webhooks.itemUpdated({ itemId: c.itemId }));
      }
      const storm = (async () => {
        for (let round = 0; round < 45; round++) {
          const c = pick(random, connections);
          const account = pick(random, c.accounts);
          const live = fake.transactions(account).map((t) => t.id);
          const roll = random();
          if (roll < 0.4 || live.length < 5) {
            const from = new Date(Date.now() - 1_000);
            fake.addTransactions(account, randomInt(random, 1, 6));
            await send(
              c.path,
              fake.webhooks.transactionsCreated({
                itemId: c.itemId,
                accountId: account,
                transactionsCreatedAtFrom: from,
              }),
            );
          } else if (roll < 0.75) {
            const ids = [...new Set(Array.from({ length: 3 }, () => pick(random, live)))];
            fake.updateTransactions(ids);
            await send(
              c.path,
              fake.webhooks.transactionsUpdated({
                itemId: c.itemId,
                accountId: account,
                transactionIds: ids,
              }),
            );
          } else {
            const ids = [...new Set(Array.from({ length: 2 }, () => pick(random, live)))];
            fake.deleteTransactions(ids);
            await send(
              c.path,
              fake.webhooks.transactionsDeleted({
                itemId: c.itemId,
                accountId: account,
                transactionIds: ids,
              }),
            );
          }
          await sleep(randomInt(random, 20, 120));
        }
      })();

      // Meanwhile: three kills with a pull running, and the broker cut for a while.
      const running = async () => {
        const [r] = await sql`select count(*)::int as n from pull_jobs where status = 'running'`;
        return r.n > 0;
      };
      let kills = 0;
      for (let k = 0; k < 3; k++) {
        await waitFor("a running pull", running, { intervalMs: 10 });
        assert.equal((await service.stop("SIGKILL")).signal, "SIGKILL");
        kills++;
        if (k === 1) proxy.cut();
        // The restarted service's start-up sweep takes the pulls back once their lease ended.
        await sleep(2_100);
        service = await setup.start();
        if (k === 1) {
          // The outage is real: events wait in the outbox while pulls go on.
          await waitFor("events waiting in the outbox", async () => {
            const [r] =
              await sql`select count(*)::int as n from event_outbox where sent_at is null`;
            return r.n > 0;
          });
          await sleep(500);
          proxy.restore();
        }
      }
      await storm;

      // Every pull done; then every event published and the feed read to its end.
      await waitFor("every pull to finish", async () => {
        const [r] = await sql`
          select count(*)::int as n from pull_jobs where status in ('queued', 'running', 'retrying')`;
        return r.n === 0;
      }, { timeoutMs: 120_000, intervalMs: 200 });
      const [failed] = await sql`
        select count(*)::int as n from pull_jobs where status in ('failed', 'dead')`;
      assert.equal(failed.n, 0, "no pull gave up");
      await waitFor("every event confirmed", async () => {
        const [r] = await sql`select count(*)::int as n from event_outbox where sent_at is null`;
        return r.n === 0;
      }, { timeoutMs: 60_000, intervalMs: 100 });
      const [{ events }] = await sql`select count(*)::int as events from event_outbox`;
      await bus.until(
        "every event on the bus",
        (m) => new Set(m.map((e) => e.messageId)).size === events,
      );
      storming = false;
      await following;

      const vendor = new Map(
        fake.items.flatMap((item) => item.accounts.flatMap((a) => fake.transactions(a.id))).map((
          t,
        ) => [t.id, t]),
      );
      const matches = (copy: Map<string, Transaction>) => {
        const byExternal = new Map([...copy.values()].map((t) => [t.externalId, t]));
        if (byExternal.size !== copy.size || byExternal.size !== vendor.size) {
          return `${copy.size} rows, ${byExternal.size} ids, vendor has ${vendor.size}`;
        }
        for (const [id, v] of vendor) {
          const t = byExternal.get(id);
          if (!t) return `${id} missing`;
          const amount = v.type === "DEBIT" ? -Math.abs(v.amount) : Math.abs(v.amount);
          if (Number(t.amount) !== amount) return `${id}: amount ${t.amount}, vendor ${amount}`;
          if (t.description !== v.description) return `${id}: description differs`;
        }
        return "";
      };
      await waitFor(
        () => `the feed consumer to hold the vendor's set: ${matches(feed.live)}`,
        async () => {
          await catchUp(feedGet, feed);
          return matches(feed.live) === "";
        },
        { timeoutMs: 60_000 },
      );

      const copy = new BusCopy();
      for (const m of bus.messages) copy.apply(m);
      assert.equal(matches(copy.live), "", "the bus consumer holds the vendor's set");
      // Per connection: numbered 1..n with no gap, first arrivals in order.
      const firsts = [...new Map(bus.messages.map((m) => [m.messageId, m])).values()];
      for (const c of new Set(firsts.map((m) => m.body.connectionId))) {
        const seqs = bus.messages.filter((m, i) =>
          m.body.connectionId === c &&
          bus.messages.findIndex((x) => x.messageId === m.messageId) === i
        ).map((m) => m.body.sequence as number);
        assert.deepEqual(seqs, seqs.map((_, i) => i + 1), `connection ${c}: in order, no gap`);
      }
      console.log(
        `${acknowledged} webhooks acknowledged, ${kills} kills, ${events} events ` +
          `(${copy.duplicates} delivered again), ${vendor.size} live transactions`,
      );
      assert.equal((await service.stop()).code, 0);
    } finally {
      await service.stop().catch(() => {});
      await bus.close();
      await sql.end();
      await fake.close();
      await proxy.close();
      await db.drop();
      await setup.cleanup();
      await vhost.delete();
    }
  },
});
