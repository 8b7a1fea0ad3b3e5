// A page store's rules at the database: a raw object is kept as the vendor's text and is a change
// only when its values differ, no transaction row names a connection that does not exist, and a
// store waits for a connection delete or makes it wait, never deadlocks with it.
import assert from "node:assert/strict";
import type postgres from "postgres";
import {
  FRESH_PAGE_ROWS,
  markDeleted,
  upsertTransactions,
} from "../../src/transactions/transactions.repository.ts";
import type { VendorTransaction } from "../../src/vendors/aggregator.ts";
import { createConnection, pluggyOwner, vendorTransaction as vt } from "../support/feed.ts";
import { newTenant, startHarness } from "../support/harness.ts";
import { waitFor } from "../support/service.ts";

/** `transactions` stored from a page whose body is `body` (each row's raw object read from it). */
function fromBody(transactions: VendorTransaction[]): VendorTransaction[] {
  return transactions.map((t, at) => ({ ...t, rawAt: at }));
}

Deno.test("a raw object is stored as sent, and is a change only when its values differ", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  try {
    const tenant = newTenant();
    const owner = await pluggyOwner(h, tenant, "raw");
    const store = (body: string) =>
      h.sql.begin((tx: postgres.TransactionSql) =>
        upsertTransactions(tx, owner, fromBody([vt("t1", "10.00")]), { body })
      );
    const sent = '{"results":[{"id":"t1","amount":10.0,"extra":{"b":1,"a":[1,2]}}],"next":null}';
    assert.equal((await store(sent)).count, 1);
    const [row] = await h.sql`
      select raw::text as raw, change_seq::text as seq from transactions
      where connection_id = ${owner.connectionId}`;
    assert.equal(row.raw, '{"id":"t1","amount":10.0,"extra":{"b":1,"a":[1,2]}}');

    // The same values in another key order and spacing: not a change, and not written.
    const reordered =
      '{"next":null,"results":[ {"extra":{"a":[1, 2],"b":1}, "amount":10.0,"id":"t1"}]}';
    assert.equal((await store(reordered)).count, 0);
    const [same] = await h.sql`
      select raw::text as raw, change_seq::text as seq from transactions
      where connection_id = ${owner.connectionId}`;
    assert.deepEqual(same, row);

    // A value that differs only inside the raw object is a change.
    const changed = '{"results":[{"id":"t1","amount":10.0,"extra":{"b":2,"a":[1,2]}}],"next":null}';
    assert.equal((await store(changed)).count, 1);
    const [after] = await h.sql`
      select raw->'extra'->>'b' as b, change_seq::text as seq from transactions
      where connection_id = ${owner.connectionId}`;
    assert.equal(after.b, "2");
    assert.notEqual(after.seq, row.seq);
  } finally {
    await h.close();
  }
});

Deno.test("a long page of new rows is inserted as new; one with stored rows is upserted in the same transaction", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  try {
    const tenant = newTenant();
    const owner = await pluggyOwner(h, tenant, "fresh");
    const ids = Array.from({ length: FRESH_PAGE_ROWS + 20 }, (_, i) => `t${1000 + i}`);
    const page = (amountOf: (id: string) => string) => {
      const transactions = ids.map((id, at) => ({ ...vt(id, amountOf(id)), rawAt: at }));
      const body = JSON.stringify({ results: transactions.map((t) => t.raw), next: null });
      return { transactions, body };
    };
    /** Stores the page; answers its count, and how many rows a savepoint (the insert) wrote. */
    const store = (p: ReturnType<typeof page>) =>
      h.sql.begin(async (tx: postgres.TransactionSql) => {
        const { count } = await upsertTransactions(tx, owner, p.transactions, { body: p.body });
        // Rows written inside a savepoint carry its subtransaction's id, not the transaction's.
        const [{ inSavepoint }] = await tx`
          select count(*)::int as "inSavepoint" from transactions
          where connection_id = ${owner.connectionId} and xmin <> pg_current_xact_id()::xid
            and change_xid = pg_current_xact_id()`;
        return { count, inSavepoint };
      });
    const rows = () =>
      h.sql`
        select external_id, amount::text, raw::text, change_seq::text as seq from transactions
        where connection_id = ${owner.connectionId} order by external_id`;

    assert.deepEqual(await store(page(() => "1.00")), {
      count: ids.length,
      inSavepoint: ids.length,
    });
    const first = await rows();
    assert.equal(first.length, ids.length);
    assert.equal(first[5].raw, JSON.stringify({ id: ids[5], amount: "1.00" }));

    // Every row stored, one changed: the insert fails on the first, and the upsert (which a plain
    // insert cannot do) writes the one.
    const changed = ids[7];
    assert.equal((await store(page((id) => id === changed ? "2.00" : "1.00"))).count, 1);
    const second = await rows();
    assert.deepEqual(
      second.filter((r, i) => r.seq !== first[i].seq).map((r) => [r.external_id, r.amount]),
      [[changed, "2.00"]],
    );

    // One row hidden by the vendor, and new rows after the stored ones: the upsert shows it again
    // and inserts the new rows.
    await h.sql.begin((tx: postgres.TransactionSql) => markDeleted(tx, owner, [ids[0]]));
    ids.push("t9998", "t9999");
    assert.equal((await store(page((id) => id === changed ? "2.00" : "1.00"))).count, 3);
    const [{ live }] = await h.sql`
      select count(*)::int as live from transactions
      where connection_id = ${owner.connectionId} and deleted_at is null`;
    assert.equal(live, ids.length);
  } finally {
    await h.close();
  }
});

Deno.test("no transaction names a connection that does not exist", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  try {
    const tenant = newTenant();
    const connectionId = await createConnection(h, tenant, "kept");
    // A page store for a connection id with no row stores nothing.
    const missing = {
      tenantId: tenant,
      connectionId: crypto.randomUUID(),
      vendor: "pluggy" as const,
    };
    const stored = await h.sql.begin((tx: postgres.TransactionSql) =>
      upsertTransactions(tx, missing, [vt("t1", "1.00")])
    );
    assert.equal(stored.count, 0);
    const [{ count }] = await h.sql`
      select count(*)::int as count from transactions where connection_id = ${missing.connectionId}`;
    assert.equal(count, 0);

    // And a connection's row is never deleted (a DELETE of the API soft-deletes it).
    await assert.rejects(
      h.sql`delete from connections where id = ${connectionId}`,
      /connections are never deleted/,
    );
    const gone = await h.request(`/v1/discovery/aggregator-connections/${connectionId}`, {
      method: "DELETE",
      tenant,
    });
    assert.equal(gone.status, 204);
    const [kept] = await h.sql`select deleted_at from connections where id = ${connectionId}`;
    assert.ok(kept.deleted_at instanceof Date);
  } finally {
    await h.close();
  }
});

Deno.test("a store that hides rows, then upserts, while a connection delete waits, does not deadlock", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  try {
    const tenant = newTenant();
    const owner = await pluggyOwner(h, tenant, "hides");
    await h.sql.begin((tx: postgres.TransactionSql) =>
      upsertTransactions(tx, owner, [vt("t1", "1.00")])
    );
    let deleting: Promise<Response> | undefined;
    await h.sql.begin(async (tx: postgres.TransactionSql) => {
      // The store holds t1's row when the delete begins; the delete must wait for the whole
      // store, not take the connection's lock and then wait for the row while the store waits
      // for the lock.
      assert.equal((await markDeleted(tx, owner, ["t1"])).count, 1);
      deleting = h.request(`/v1/discovery/aggregator-connections/${owner.connectionId}`, {
        method: "DELETE",
        tenant,
      });
      await waitFor("the delete to wait for a lock", async () => {
        const [{ waiting }] = await h.sql`
          select count(*)::int as waiting from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'`;
        return waiting > 0;
      });
      assert.equal((await upsertTransactions(tx, owner, [vt("t2", "2.00")])).count, 1);
    });
    assert.equal((await deleting!).status, 204);
    const [{ live }] = await h.sql`
      select count(*)::int as live from transactions
      where connection_id = ${owner.connectionId} and deleted_at is null`;
    assert.equal(live, 0, "the delete, which committed last, hid the store's rows too");
  } finally {
    await h.close();
  }
});
