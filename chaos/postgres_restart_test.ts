// Postgres restarted and stopped under a steady stream of webhooks and API calls, on a private
// cluster: answers are 2xx or 503 with Retry-After, acknowledged webhooks are stored, /ready and
// the pulls recover, and the service process never restarts.
import assert from "node:assert/strict";
import postgres from "postgres";
import { startFakePluggy } from "../tests/fakes/pluggy.ts";
import { createPrivateCluster } from "../tests/support/pg_cluster.ts";
import {
  createPluggyConnection,
  type Service,
  serviceSetup,
  tenantApi,
  waitFor,
  webhookPath,
} from "../tests/support/service.ts";

const CONNECTIONS = 3;
const METRICS_TOKEN = "chaos-metrics-token-0123456789abcdef";

/** What was wrong with an answer, or undefined when it is a 2xx or a proper 503. */
async function problem(res: Response): Promise<string | undefined> {
  const text = await res.text();
  if (res.status >= 200 && res.status < 300) return undefined;
  if (res.status !== 503) return `${res.status} ${text.slice(0, 200)}`;
  if (!res.headers.get("retry-after")) return `503 without Retry-After: ${text.slice(0, 200)}`;
  try {
    const body = JSON.parse(text);
    if (body.code !== "MTCH-9503" || typeof body.title !== "string" || !body.message) {
      return `503 without the error envelope: ${text.slice(0, 200)}`;
    }
  } catch {
    return `503 with a body that is not JSON: ${text.slice(0, 200)}`;
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name:
    "Postgres restarted and stopped under load: 503s with Retry-After, nothing acknowledged lost",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cluster = await createPrivateCluster();
    console.log(`private cluster ${cluster.name} on port ${cluster.port}`);
    const items = Array.from({ length: CONNECTIONS }, () => ({
      accounts: [{ transactions: 25 }, { type: "CREDIT" as const, transactions: 10 }],
    }));
    const fake = await startFakePluggy({ seed: 7, pageSize: 10, items });
    // Pages are slow, so the pulls queued just before an outage are still running in it.
    fake.faults.add({ path: "/v2/transactions", times: Infinity, fault: { delayMs: 400 } });
    const setup = await serviceSetup(cluster.url, [fake.host], {
      MATCHER_PULL_LEASE_SECONDS: "3",
      MATCHER_METRICS_TOKEN: METRICS_TOKEN,
    });
    const sql = postgres(cluster.url, { max: 1, onnotice: () => {}, connect_timeout: 2 });
    let service: Service | undefined;
    let streaming = true;
    const loops: Promise<void>[] = [];
    try {
      service = await setup.start();
      const baseUrl = service.baseUrl;
      const api = await tenantApi(() => baseUrl, setup.secret);
      const connections: Array<{ id: string; path: string; itemId: string }> = [];
      for (let i = 0; i < CONNECTIONS; i++) {
        const itemId = fake.items[i].id;
        const id = await createPluggyConnection(api, fake.url, itemId, `pluggy-${i}`);
        connections.push({ id, itemId, path: await webhookPath(api, `pluggy-${i}`) });
      }

      // The streams: webhooks (unique event ids) over every connection, API reads and pull
      // requests, /ready, /health and /metrics; each answer is checked as it comes.
      const problems: string[] = [];
      const acknowledged: string[] = [];
      const readiness: number[] = [];
      let sent = 0;
      let slowest = 0;
      const check = async (what: string, call: () => Promise<Response>) => {
        const started = performance.now();
        try {
          const res = await call();
          slowest = Math.max(slowest, performance.now() - started);
          const status = res.status;
          const wrong = await problem(res);
          if (wrong) problems.push(`${what}: ${wrong}`);
          return status;
        } catch (err) {
          problems.push(`${what}: no answer (${(err as Error).message})`);
          return 0;
        }
      };
      const stream = (pauseMs: number, step: (n: number) => Promise<void>) => {
        loops.push((async () => {
          // Bounded: stops when told, and after at most 10 minutes' worth of steps.
          for (let n = 0; streaming && n < (600_000 / pauseMs); n++) {
            await step(n);
            await sleep(pauseMs);
          }
        })());
      };
      for (const [c, connection] of connections.entries()) {
        stream(40, async () => {
          const payload = fake.webhooks.itemUpdated({ itemId: connection.itemId });
          sent++;
          const status = await check(`webhook ${c}`, () =>
            fetch(`${baseUrl}${connection.path}`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(payload),
              signal: AbortSignal.timeout(30_000),
            }));
          if (status >= 200 && status < 300) acknowledged.push(payload.eventId as string);
        });
      }
      stream(50, async (n) => {
        const connection = connections[n % CONNECTIONS];
        await check(
          "list connections",
          () => api.request("GET", "/v1/discovery/aggregator-connections"),
        );
        await check(
          "list transactions",
          () =>
            api.request(
              "GET",
              `/v1/discovery/aggregator-connections/${connection.id}/transactions`,
            ),
        );
        if (n % 10 === 0) {
          await check(
            "request a pull",
            () =>
              api.request("POST", `/v1/discovery/aggregator-connections/${connection.id}/pulls`),
          );
        }
      });
      stream(100, async () => {
        readiness.push(
          await check(
            "ready",
            () => fetch(`${baseUrl}/ready`, { signal: AbortSignal.timeout(30_000) }),
          ),
        );
        await check(
          "health",
          () => fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(30_000) }),
        );
      });
      stream(500, async () => {
        await check(
          "metrics",
          () =>
            fetch(`${baseUrl}/metrics`, {
              headers: { Authorization: `Bearer ${METRICS_TOKEN}` },
              signal: AbortSignal.timeout(30_000),
            }),
        );
      });

      // Pulls queued right before the first outage.
      const before: string[] = [];
      for (const connection of connections) {
        const pull = await api.post(
          `/v1/discovery/aggregator-connections/${connection.id}/pulls`,
          {},
          202,
        );
        before.push(pull.id as string);
      }
      await waitFor(
        "the pulls to start",
        () => fake.requests.filter((r) => r.path === "/v2/transactions").length >= CONNECTIONS,
      );

      await cluster.ctl("restart");
      await waitFor("ready after the restart", () => readiness.at(-1) === 200, {
        timeoutMs: 60_000,
      });

      // The stop spans a minute boundary, so the Deno.cron sweep runs while Postgres is down.
      await waitFor("second 52 of a minute", () => {
        const s = new Date().getSeconds();
        return s >= 52 && s < 56;
      }, { intervalMs: 200 });
      const readyBefore = readiness.length;
      await cluster.ctl("stop");
      await sleep(8_000);
      await cluster.ctl("start");
      await waitFor("ready after the stop", () => readiness.at(-1) === 200, { timeoutMs: 60_000 });
      const duringStop = readiness.slice(readyBefore);
      assert.ok(duringStop.includes(503), `/ready answered 503 during the outage: ${duringStop}`);

      await sleep(1_000);
      streaming = false;
      await Promise.all(loops);
      assert.deepEqual(problems, [], "every answer was a 2xx or a 503 with Retry-After");
      assert.ok(sent > 100, `a steady stream of webhooks (${sent})`);
      assert.ok(acknowledged.length < sent, "some webhooks were refused during the outage");

      const stored = new Set(
        (await sql`select event_key from webhook_events`).map((r) => r.event_key as string),
      );
      const lost = acknowledged.filter((id) => !stored.has(id));
      assert.deepEqual(lost, [], "every acknowledged webhook is stored");

      // Retries wait 30 s and more: make retrying pulls due now (the pool polls each second).
      // Pulls whose worker could not even record its failure stay running until their lease runs
      // out and the next minute's sweep hands them back.
      const pending = await waitFor("every pull to finish", async () => {
        await sql`update pull_jobs set next_attempt_at = now()
                  where status = 'retrying' and next_attempt_at > now()`;
        const rows = await sql`
          select id, status, last_error from pull_jobs
          where status not in ('succeeded')`;
        return rows.every((r) => r.status === "failed" || r.status === "dead") && rows;
      }, { timeoutMs: 150_000, intervalMs: 500 });
      assert.deepEqual(pending.map((r) => ({ ...r })), [], "no pull failed or died");
      for (const id of before) {
        assert.equal((await api.get(`/v1/discovery/pulls/${id}`)).status, "succeeded");
      }
      const [{ n }] = await sql`select count(*)::int as n from transactions`;
      assert.equal(n, CONNECTIONS * 35, "every connection's transactions stored once");

      // The same process all along: one start, still alive, and it stops cleanly.
      assert.equal(service.lines.filter((l) => l.includes("listening on")).length, 1);
      await Deno.stat(`/proc/${service.pid}`);
      const running = service;
      service = undefined;
      assert.equal((await running.stop()).code, 0);
      const logged = running.lines.join("\n").split("\n");
      // A pull whose worker could not record its failure ("pull run crashed") is a handled
      // outcome (the sweep hands it back, and every pull finished above); an uncaught error is not.
      const crashes = logged.filter((l) => /Uncaught|^error: /.test(l));
      assert.deepEqual(crashes, [], "nothing crashed");
      // What the outage looked like from inside: the codes of the requests answered 503.
      const codes = new Map<string, number>();
      for (const line of logged.filter((l) => l.includes('"msg":"request failed"'))) {
        const code = JSON.parse(line).error?.code ?? "none";
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      console.log("503s by database error code:", Object.fromEntries(codes));
      console.log(
        `${sent} webhooks sent, ${acknowledged.length} acknowledged; ` +
          `/ready during the stop: ${duringStop.filter((s) => s === 503).length} x 503; ` +
          `slowest answer ${Math.round(slowest)} ms`,
      );
    } finally {
      streaming = false;
      await Promise.allSettled(loops);
      if (service) {
        await service.stop().catch(() => {});
        console.log(service.lines.filter((l) => !l.includes('"msg":"request"')).join("\n"));
      }
      await sql.end({ timeout: 1 }).catch(() => {});
      await fake.close();
      await setup.cleanup();
      await cluster.drop();
    }
  },
});
