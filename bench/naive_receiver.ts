// The naive baseline of the webhook bench: what a user writes in an afternoon with Hono and
// postgres.js, one database transaction per delivery, the token read from Deno KV each time.
// Usage: deno run --allow-all naive_receiver.ts <database url> <kv file>
import { Hono } from "hono";
import { createHash } from "node:crypto";
import postgres from "postgres";

const [databaseUrl, kvPath] = Deno.args;
const sql = postgres(databaseUrl, { max: 10, onnotice: () => {} });
const kv = await Deno.openKv(kvPath);
type Token = { tenantId: string; connectionId: string; vendor: string };

const app = new Hono();
app.post("/v1/discovery/webhooks/:vendor/:token", async (c) => {
  const hash = createHash("sha256").update(c.req.param("token")).digest("hex");
  const token = (await kv.get<Token>(["webhook_tokens", hash])).value;
  if (!token || token.vendor !== c.req.param("vendor")) return c.json({ code: "MTCH-1404" }, 404);
  const body = await c.req.json();
  const receipt = await sql.begin(async (tx) => {
    const [connection] = await tx`
      select account_ref from connections
      where id = ${token.connectionId} and deleted_at is null for share`;
    if (!connection) return undefined;
    const asks = body.event === "item/updated" && body.itemId === connection.account_ref;
    const [pull] = asks
      ? await tx`
        insert into pull_jobs (id, tenant_id, connection_id, trigger, status, work,
                               next_attempt_at, created_at)
        values (gen_random_uuid(), ${token.tenantId}, ${token.connectionId}, 'webhook', 'queued',
                '{"sync": true}', now() + interval '2 seconds', now())
        on conflict (connection_id) where status = 'queued' do update
          set work = pull_jobs.work || '{"sync": true}'
        returning id`
      : [];
    const inserted = await tx`
      insert into webhook_events (id, tenant_id, connection_id, vendor, event_key, event_type,
                                  outcome, pull_id, payload)
      values (gen_random_uuid(), ${token.tenantId}, ${token.connectionId}, ${token.vendor},
              ${body.eventId}, ${body.event}, ${asks ? "accepted" : "ignored"}, ${pull?.id ?? null},
              ${tx.json(body)})
      on conflict (connection_id, event_key) do nothing returning id`;
    const status = inserted.length === 0 ? "duplicate" : asks ? "accepted" : "ignored";
    return { status, pullId: pull?.id ?? null };
  });
  return receipt ? c.json(receipt, 202) : c.json({ code: "MTCH-1404" }, 404);
});

const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
console.log(JSON.stringify({ url: `http://127.0.0.1:${server.addr.port}` }));
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  await sql.end({ timeout: 2 });
  kv.close();
  Deno.exit(0);
});
