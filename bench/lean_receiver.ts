// The lean reference of the webhook bench, as issue 15 describes it: Deno.serve, the tokens
// read from Deno KV once at start and kept in memory, and group commit: the deliveries that arrive
// while a batch is being written go in the next batch, one statement and one commit per batch,
// each answered 202 only after its batch committed. Same rows as the naive receiver writes (the
// event, and the connection's queued pull created or merged), no pull is run.
// With `node`, the same receiver serves on node:http with the service's bounds on a slow client's
// headers and request (issue 13), which Deno.serve 2.9 cannot set: what that choice costs alone.
// Usage: deno run --allow-all lean_receiver.ts <database url> <kv file> [node]
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import postgres from "postgres";

const [databaseUrl, kvPath, serverKind = "deno"] = Deno.args;
const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
type Token = { tenantId: string; connectionId: string; vendor: string; headerSecretHash?: string };

const tokens = new Map<string, Token>();
const kv = await Deno.openKv(kvPath);
for await (const entry of kv.list<Token>({ prefix: ["webhook_tokens"] })) {
  if (entry.key.length === 2) tokens.set(String(entry.key[1]), entry.value);
}
kv.close();

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

interface Delivery {
  token: Token;
  event: Record<string, unknown>;
  done: (receipt: { status: string; pullId: string | null } | undefined) => void;
}

let waiting: Delivery[] = [];
let writing = false;

async function write(batch: Delivery[]) {
  const rows = batch.map((d, i) => ({
    i,
    id: crypto.randomUUID(),
    tenant_id: d.token.tenantId,
    connection_id: d.token.connectionId,
    vendor: d.token.vendor,
    event_key: String(d.event.eventId),
    event_type: String(d.event.event),
    item_id: typeof d.event.itemId === "string" ? d.event.itemId : null,
    payload: d.event,
  }));
  const answers = await sql`
    with input as (
      select x.* from json_to_recordset(${JSON.stringify(rows)}::text::json) as x(
        i integer, id uuid, tenant_id uuid, connection_id uuid, vendor text, event_key text,
        event_type text, item_id text, payload jsonb)
    ),
    live as (
      select i.*, i.event_type = 'item/updated' and i.item_id = c.account_ref as asks
      from input i join connections c on c.id = i.connection_id and c.deleted_at is null
    ),
    pulls as (
      insert into pull_jobs (id, tenant_id, connection_id, trigger, status, work,
                             next_attempt_at, created_at)
      select distinct on (connection_id) gen_random_uuid(), tenant_id, connection_id, 'webhook',
        'queued', '{"sync": true}', now() + interval '2 seconds', now()
      from live where asks
      order by connection_id
      on conflict (connection_id) where status = 'queued' do update
        set work = pull_jobs.work || '{"sync": true}'
      returning id, connection_id
    ),
    stored as (
      insert into webhook_events (id, tenant_id, connection_id, vendor, event_key, event_type,
                                  outcome, pull_id, payload)
      select l.id, l.tenant_id, l.connection_id, l.vendor, l.event_key, l.event_type,
        case when l.asks then 'accepted' else 'ignored' end, p.id, l.payload
      from live l left join pulls p on p.connection_id = l.connection_id and l.asks
      order by l.connection_id, l.event_key
      on conflict (connection_id, event_key) do nothing
      returning id, outcome, pull_id
    )
    select l.i, s.outcome, s.pull_id from live l left join stored s on s.id = l.id`;
  const byIndex = new Map(answers.map((a) => [a.i, a]));
  batch.forEach((d, i) => {
    const a = byIndex.get(i);
    d.done(a && { status: a.outcome ?? "duplicate", pullId: a.pull_id ?? null });
  });
}

async function flush() {
  writing = true;
  while (waiting.length) {
    const batch = waiting;
    waiting = [];
    try {
      await write(batch);
    } catch (err) {
      console.error(`lean receiver: ${err}`);
      for (const d of batch) d.done(undefined);
    }
  }
  writing = false;
}

type Answer = { status: number; body: unknown };

const notFound: Answer = { status: 404, body: { code: "MTCH-1404" } };

/** A delivery to `path` with `body` and its header secret, answered once its batch committed. */
async function receive(
  method: string,
  path: string,
  secret: string | null,
  body: () => Promise<unknown>,
): Promise<Answer> {
  const parts = path.split("/");
  const token = tokens.get(sha256(parts[5] ?? ""));
  if (method !== "POST" || !token || token.vendor !== parts[4]) return notFound;
  if (token.headerSecretHash && sha256(secret ?? "") !== token.headerSecretHash) return notFound;
  let event: Record<string, unknown>;
  try {
    event = await body() as Record<string, unknown>;
  } catch {
    return { status: 400, body: { code: "MTCH-1003" } };
  }
  const receipt = await new Promise<{ status: string; pullId: string | null } | undefined>(
    (done) => {
      waiting.push({ token, event, done });
      if (!writing) flush();
    },
  );
  return receipt ? { status: 202, body: receipt } : notFound;
}

const SECRET = "x-matcher-webhook-secret";
let url: string;
let stop: () => Promise<void>;
if (serverKind === "node") {
  const server = createServer({
    headersTimeout: 10_000,
    requestTimeout: 20_000,
    keepAliveTimeout: 65_000,
    connectionsCheckingInterval: 1_000,
  }, (req, res) => {
    const body = () =>
      new Promise<unknown>((resolve, reject) => {
        const chunks: Uint8Array[] = [];
        req.on("data", (chunk: Uint8Array) => chunks.push(chunk));
        req.on("end", () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
          } catch (err) {
            reject(err);
          }
        });
        req.on("error", reject);
      });
    const secret = req.headers[SECRET];
    receive(req.method ?? "GET", (req.url ?? "/").split("?")[0], (secret as string) ?? null, body)
      .then(({ status, body }) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      });
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stop = () =>
    new Promise((done) => {
      server.close(() => done());
      server.closeAllConnections();
    });
} else {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const { pathname } = new URL(request.url);
    const answer = await receive(
      request.method,
      pathname,
      request.headers.get(SECRET),
      () => request.json(),
    );
    return Response.json(answer.body, { status: answer.status });
  });
  url = `http://127.0.0.1:${server.addr.port}`;
  stop = () => server.shutdown();
}
console.log(JSON.stringify({ url }));
Deno.addSignalListener("SIGTERM", async () => {
  await stop();
  await sql.end({ timeout: 2 });
  Deno.exit(0);
});
