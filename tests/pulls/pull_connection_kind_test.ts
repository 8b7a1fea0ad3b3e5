// GET and retry of a pull answer only for pulls of aggregator connections, deleted ones included.
import assert from "node:assert/strict";
import { newTenant, startHarness } from "../support/harness.ts";

Deno.test("a pull of a non-aggregator connection is the same 404 as an unknown pull", async () => {
  const h = await startHarness({ pulls: { wake: false } });
  try {
    const tenant = newTenant();
    // A row of another kind of connection, as other Matcher services store in the same table, and
    // a pull that names it: this service never shows either.
    const connectionId = crypto.randomUUID();
    await h.sql`
      insert into connections (id, tenant_id, kind, connector_type, config_name)
      values (${connectionId}, ${tenant}, 'database', 'postgres', 'ledger-db')`;
    const pullId = crypto.randomUUID();
    await h.sql`
      insert into pull_jobs (id, tenant_id, connection_id, trigger, status, work, created_at,
                             finished_at)
      values (${pullId}, ${tenant}, ${connectionId}, 'manual', 'failed', '{"sync": true}',
              now(), now())`;
    for (const [method, path] of [["GET", ""], ["POST", "/retry"]]) {
      const res = await h.request(`/v1/discovery/pulls/${pullId}${path}`, { method, tenant });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.deepEqual(await res.json(), {
        code: "MTCH-4404",
        title: "Not Found",
        message: "No such pull.",
      });
    }
    const [{ count }] = await h.sql`select count(*)::int from pull_jobs`;
    assert.equal(count, 1, "the retry queued nothing");

    // The same pull of an aggregator connection, deleted since, is still the tenant's history.
    await h.sql`
      update connections set kind = 'aggregator', connector_type = 'pluggy',
        base_url = 'https://api.pluggy.ai', account_ref = 'item', sealed_credential = '\\x00',
        deleted_at = now()
      where id = ${connectionId}`;
    const res = await h.request(`/v1/discovery/pulls/${pullId}`, { tenant });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).id, pullId);
  } finally {
    await h.close();
  }
});
