// A database that hangs, against the real service process: requests end in a 503 with
// Retry-After within MATCHER_DB_WAIT_MS, webhook deliveries past MATCHER_WEBHOOK_MAX_PENDING are
// refused at once, a statement stuck on a lock ends at MATCHER_DB_STATEMENT_TIMEOUT_MS, and the
// service recovers when the database answers again.
import assert from "node:assert/strict";
import postgres from "postgres";
import { createTestDatabase } from "../support/database.ts";
import {
  createPluggyConnection,
  serviceSetup,
  tenantApi,
  waitFor,
  webhookPath,
} from "../support/service.ts";
import { startHoldingProxy } from "../support/holding_proxy.ts";

const MAX_PENDING = 5;

/** A Pluggy event about another item than the connection's: recorded (a database write), no pull. */
const event = () => ({
  event: "item/updated",
  eventId: crypto.randomUUID(),
  itemId: crypto.randomUUID(),
  triggeredBy: "SYNC",
});

/** The answer's status, Retry-After and error envelope. */
async function answer(call: Promise<Response>) {
  const res = await call;
  const body = await res.json();
  return {
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    code: body.code as string | undefined,
    message: String(body.message ?? ""),
  };
}

Deno.test({
  name: "a hung database ends requests in 503 with Retry-After, and the service recovers",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const db = await createTestDatabase();
    const proxy = startHoldingProxy({ hostname: "127.0.0.1", port: Number(new URL(db.url).port) });
    const setup = await serviceSetup(proxy.via(db.url), [], {
      MATCHER_DB_WAIT_MS: "1500",
      MATCHER_DB_STATEMENT_TIMEOUT_MS: "500",
      MATCHER_WEBHOOK_MAX_PENDING: String(MAX_PENDING),
    });
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const service = await setup.start();
    try {
      const api = await tenantApi(() => service.baseUrl, setup.secret);
      const id = await createPluggyConnection(api, "https://api.pluggy.ai", "item-1");
      const path = await webhookPath(api);
      const deliver = () =>
        fetch(`${service.baseUrl}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(event()),
          signal: AbortSignal.timeout(30_000),
        });
      assert.equal((await answer(deliver())).status, 202);

      await t.step("a statement stuck on a lock ends at the statement timeout", async () => {
        // The test holds the connection's row; an update of it waits for the lock.
        await sql.begin(async (tx) => {
          await tx`select id from connections where id = ${id} for update`;
          const res = await answer(
            api.request("PUT", `/v1/discovery/aggregator-connections/${id}`, {
              configName: "pluggy-main",
              baseUrl: "https://api.pluggy.ai",
              accountRef: "item-2",
            }),
          );
          assert.equal(res.status, 503);
          assert.equal(res.code, "MTCH-9503");
          assert.equal(res.retryAfter, "5");
          assert.match(res.message, /database is unavailable/, "statement_timeout, not the wait");
        });
      });

      proxy.hold();

      await t.step("an API request answers 503 with Retry-After", async () => {
        const res = await answer(api.request("GET", "/v1/discovery/aggregator-connections"));
        assert.equal(res.status, 503);
        assert.equal(res.code, "MTCH-9503");
        assert.equal(res.retryAfter, "5");
      });

      await t.step("a webhook delivery answers 503 with Retry-After", async () => {
        const res = await answer(deliver());
        assert.equal(res.status, 503);
        assert.equal(res.code, "MTCH-9503");
        assert.equal(res.retryAfter, "5");
        assert.match(res.message, /did not record the delivery in time/);
      });

      await t.step(
        "past the pending bound, deliveries are refused before any waiting one",
        async () => {
          const order: string[] = [];
          const burst = Array.from({ length: 20 }, async () => {
            const res = await answer(deliver());
            assert.equal(res.status, 503);
            assert.equal(res.retryAfter, "5");
            order.push(/Too many deliveries/.test(res.message) ? "full" : "late");
          });
          await Promise.all(burst);
          const full = order.filter((o) => o === "full").length;
          assert.ok(full >= 20 - MAX_PENDING - 3, `refused at once: ${order.join(" ")}`);
          assert.ok(full < 20, "some waited their turn");
          assert.equal(order.indexOf("late"), full, `all the full ones first: ${order.join(" ")}`);
        },
      );

      await t.step("the process still answers what needs no database", async () => {
        const health = await fetch(`${service.baseUrl}/health`);
        assert.equal(health.status, 200);
        await health.body?.cancel();
        const ready = await fetch(`${service.baseUrl}/ready`);
        assert.equal(ready.status, 503);
        await ready.body?.cancel();
      });

      proxy.release();

      await t.step("once the database answers, so does the service", async () => {
        await waitFor("a webhook accepted again", async () => {
          const res = await answer(deliver());
          return res.status === 202;
        }, { timeoutMs: 30_000, intervalMs: 200 });
        const listed = await api.get("/v1/discovery/aggregator-connections");
        assert.equal((listed.items as unknown[]).length, 1);
      });
    } finally {
      proxy.release();
      const status = await service.stop();
      const output = service.lines.join("\n");
      assert.doesNotMatch(output, /Uncaught/, output.slice(-2_000));
      assert.equal(status.code, 0);
      await sql.end();
      await proxy.close();
      await setup.cleanup();
      await db.drop();
    }
  },
});
