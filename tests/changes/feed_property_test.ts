// The feed's contract under concurrency: a consumer that applies it in order, from the start or
// from any cursor it saved, ends with exactly the tenant's live transactions and their latest
// values, while random upserts, changes and deletions on several connections commit in any order.
import assert from "node:assert/strict";
import type postgres from "postgres";
import {
  lockConnectionRows,
  markConnectionDeleted,
  markDeleted,
  upsertTransactions,
} from "../../src/transactions/transactions.repository.ts";
import { mulberry32, pick, type Random, randomInt } from "../fakes/random.ts";
import {
  catchUp,
  createConnection,
  FeedCopy,
  type FeedGet,
  feedGet,
  vendorTransaction,
} from "../support/feed.ts";
import { type Harness, newTenant, startHarness } from "../support/harness.ts";
import { waitFor } from "../support/service.ts";

const SEED = Number(Deno.env.get("FEED_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Owner = { tenantId: string; connectionId: string; vendor: "pluggy" };

class ConnectionGone extends Error {}

/** Runs a transaction again when Postgres rolled it back to break a deadlock, as a pull would. */
async function retryOnDeadlock(run: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await run();
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== "40P01" || attempt >= 10) throw err;
    }
  }
}

const idsOf = (owner: Owner) =>
  Array.from({ length: 30 }, (_, i) => `${owner.connectionId.slice(0, 4)}-${i}`);

/**
 * `n` transactions, each upserting and/or deleting a few rows of one connection, pausing between
 * statements so that transactions overlap and commit in any order. Like a page store, one whose
 * connection was deleted meanwhile rolls back.
 */
async function writer(h: Harness, random: Random, owners: Owner[], n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const owner = pick(random, owners);
    const ids = idsOf(owner);
    await retryOnDeadlock(() =>
      h.sql.begin(async (tx: postgres.TransactionSql) => {
        for (let op = randomInt(random, 1, 3); op > 0; op--) {
          await sleep(randomInt(random, 0, 12));
          if (random() < 0.7) {
            const rows = Array.from({ length: randomInt(random, 1, 8) }, () => {
              const id = pick(random, ids);
              // Few distinct values, so that some rows are stored again unchanged.
              return vendorTransaction(id, `${randomInt(random, 1, 4)}.00`, {
                description: random() < 0.5 ? `d-${id}` : `d-${id}-${randomInt(random, 0, 3)}`,
              });
            });
            await upsertTransactions(tx, owner, rows);
          } else {
            await markDeleted(tx, owner, [pick(random, ids), pick(random, ids)]);
          }
        }
        await sleep(randomInt(random, 0, 12));
        const [live] = await tx`
          select 1 from connections where id = ${owner.connectionId} and deleted_at is null`;
        if (!live) throw new ConnectionGone();
      }).catch((err) => {
        if (!(err instanceof ConnectionGone)) throw err;
      })
    );
  }
}

/** Deletes a connection as the service does: its rows deleted in the deleting transaction. */
async function deleteConnectionLater(h: Harness, owner: Owner): Promise<void> {
  await sleep(300);
  await h.sql.begin(async (tx: postgres.TransactionSql) => {
    await lockConnectionRows(tx, owner.connectionId);
    await tx`update connections set deleted_at = now() where id = ${owner.connectionId}`;
    await markConnectionDeleted(tx, owner.connectionId);
  });
}

/** Follows the feed with random page sizes while `writing()`, saving copies of its state. */
async function follow(
  get: FeedGet,
  random: Random,
  follower: FeedCopy,
  saved: FeedCopy[],
  writing: () => boolean,
): Promise<void> {
  while (writing()) {
    await catchUp(get, follower, { limit: randomInt(random, 1, 25), maxPages: 3 });
    if (random() < 0.3) saved.push(new FeedCopy(follower));
    await sleep(randomInt(random, 0, 10));
  }
}

Deno.test(`the feed applied from the start or any saved cursor ends with exactly the live transactions (FEED_SEED=${SEED})`, async () => {
  console.log(`FEED_SEED=${SEED}`);
  const random = mulberry32(SEED);
  const h = await startHarness({ pulls: { wake: false } });
  try {
    const tenant = newTenant();
    const other = newTenant();
    const owners: Owner[] = [];
    for (let i = 0; i < 4; i++) {
      const connectionId = await createConnection(h, tenant, `conn-${i}`);
      owners.push({ tenantId: tenant, connectionId, vendor: "pluggy" });
    }
    const foreign: Owner = {
      tenantId: other,
      connectionId: await createConnection(h, other, "foreign"),
      vendor: "pluggy",
    };
    const doomed = owners[3];
    const writeTo = [...owners, foreign];

    const get = feedGet(h, tenant);
    const follower = new FeedCopy();
    const saved: FeedCopy[] = [new FeedCopy()];
    let writing = true;
    const reading = follow(get, random, follower, saved, () => writing);
    try {
      await Promise.all([
        ...Array.from({ length: 5 }, () => writer(h, random, writeTo, 40)),
        deleteConnectionLater(h, doomed),
      ]);
    } finally {
      writing = false;
      await reading;
    }

    const truth = new Map(
      (await h.sql`
        select id, connection_id, external_id, amount::text as amount, description
        from transactions where tenant_id = ${tenant} and deleted_at is null`)
        .map((r) => [r.id as string, r]),
    );
    const [{ total }] = await h.sql`
      select count(*)::int as total from transactions where tenant_id = ${tenant}`;
    assert.ok(truth.size > 20, `enough live rows to mean something (${truth.size})`);
    const doomedLive = [...truth.values()].filter((r) => r.connection_id === doomed.connectionId);
    assert.deepEqual(doomedLive, [], "the deleted connection has no live transaction");

    const sameAsTruth = (copy: FeedCopy) => {
      if (copy.live.size !== truth.size) return false;
      for (const [id, row] of truth) {
        const t = copy.live.get(id);
        if (!t || t.amount !== row.amount || t.description !== row.description) return false;
        if (t.externalId !== row.external_id || t.connectionId !== row.connection_id) return false;
      }
      return true;
    };
    // The horizon may lag behind other databases' transactions on this server for a moment.
    await waitFor("the follower to hold the live transactions", async () => {
      await catchUp(get, follower);
      return sameAsTruth(follower);
    }, { timeoutMs: 60_000 });

    console.log(`${saved.length} saved cursors, ${truth.size} live of ${total} rows`);
    for (const copy of saved) {
      await catchUp(get, copy, { limit: randomInt(random, 1, 200) });
      assert.ok(sameAsTruth(copy), `a consumer resumed from a saved cursor (${copy.cursor})`);
    }

    // Read from the start once nothing is written: every row once, in its latest state.
    const fresh = new FeedCopy();
    const items = await catchUp(get, fresh, { limit: 7 });
    assert.ok(sameAsTruth(fresh));
    assert.equal(items.length, total, "each row shows once (the feed compacts)");
    assert.equal(new Set(items.map((i) => i.id)).size, total);
    assert.ok(items.every((i) => owners.some((o) => o.connectionId === i.connectionId)));

    // One connection's feed holds exactly that connection's part.
    for (const owner of owners) {
      const copy = new FeedCopy();
      await catchUp(get, copy, { limit: 50, connectionId: owner.connectionId });
      const part = [...truth.values()].filter((r) => r.connection_id === owner.connectionId);
      assert.equal(copy.live.size, part.length);
      for (const row of part) assert.equal(copy.live.get(row.id)?.amount, row.amount);
    }
  } finally {
    await h.close();
  }
});
