// The real service process, killed with SIGKILL right after acknowledging webhooks: every webhook
// answered 202 is in Postgres, and the restarted service finishes the pulls they queued.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import postgres from "postgres";
import { startFakePluggy } from "../fakes/pluggy.ts";
import { createTestDatabase } from "../support/database.ts";
import { randomKey } from "../support/harness.ts";
import { cleanEnv, startService } from "../support/process.ts";

const TENANT = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f";

Deno.test({
  name: "webhooks answered 202 survive a SIGKILL, and the restarted service runs their pulls",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const db = await createTestDatabase();
    const fake = await startFakePluggy();
    const dataDir = await Deno.makeTempDir({ prefix: "matcher-durability-" });
    const secret = randomKey().toBase64();
    const env = cleanEnv({
      PORT: "0",
      DATABASE_URL: db.url,
      MATCHER_DATA_DIR: dataDir,
      AUTH_JWT_SECRET: secret,
      MATCHER_SEAL_KEYS: `k1:${randomKey().toBase64()}`,
      MATCHER_EGRESS_ALLOW_HOSTS: fake.host,
      MATCHER_EGRESS_ALLOW_HTTP: "true",
      MATCHER_PULL_LEASE_SECONDS: "3",
    });
    const sql = postgres(db.url, { max: 2, onnotice: () => {} });
    let service = await startService(env, { direct: true });
    try {
      const jwt = await new SignJWT({ tenant_id: TENANT }).setProtectedHeader({ alg: "HS256" })
        .setExpirationTime("10m").sign(new TextEncoder().encode(secret));
      const api = (path: string, body: unknown) =>
        fetch(`${service.baseUrl}${path}`, {
          method: "POST",
          headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
      const created = await api("/v1/discovery/aggregator-connections", {
        vendor: "pluggy",
        configName: "pluggy-main",
        baseUrl: fake.url,
        accountRef: fake.items[0].id,
        clientId: "fake-client-id",
        secret: "fake-client-secret",
      });
      assert.equal(created.status, 201);
      const minted = await api("/v1/discovery/webhooks/tokens", {
        vendor: "pluggy",
        connection_config_name: "pluggy-main",
      });
      // PORT=0 makes the default public URL useless; the path is what matters here.
      const path = new URL((await minted.json()).webhookUrl).pathname;

      // The first pull hangs at the vendor, so the process dies holding it; the rest queue.
      fake.faults.add({ path: "/accounts", fault: { delayMs: 60_000 } });
      const itemId = fake.items[0].id;
      const first = await fake.sendWebhook(
        `${service.baseUrl}${path}`,
        fake.webhooks.itemUpdated({ itemId }),
      );
      assert.equal(first.status, 202);
      while (!fake.requests.some((r) => r.path === "/accounts")) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const answers = await Promise.all(
        Array.from(
          { length: 20 },
          () =>
            fake.sendWebhook(`${service.baseUrl}${path}`, fake.webhooks.itemUpdated({ itemId })),
        ),
      );
      assert.ok(answers.every((a) => a.status === 202));
      const killed = await service.stop("SIGKILL");
      assert.equal(killed.signal, "SIGKILL");

      const [{ events }] = await sql`select count(*)::int as events from webhook_events`;
      assert.equal(events, 21, "every acknowledged webhook is stored");
      const jobs = await sql`select status from pull_jobs order by created_at`;
      assert.deepEqual(jobs.map((j) => j.status), ["running", "queued"]);

      await new Promise((r) => setTimeout(r, 3_100)); // the dead process's lease runs out
      service = await startService(env, { direct: true });
      for (let i = 0; i < 300; i++) {
        const rows = await sql`select status from pull_jobs`;
        if (rows.every((r) => r.status === "succeeded")) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const done = await sql`select status, attempts from pull_jobs order by created_at`;
      assert.deepEqual(done.map((j) => ({ ...j })), [
        { status: "succeeded", attempts: 2 },
        { status: "succeeded", attempts: 1 },
      ]);
      const [{ stored }] = await sql`select count(*)::int as stored from transactions`;
      assert.equal(stored, 35);
      assert.equal((await service.stop()).code, 0);
    } finally {
      await service.stop().catch(() => {});
      await sql.end();
      await fake.close();
      await db.drop();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
