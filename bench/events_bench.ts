// Benchmarks of delivery: a pull of 100,000 transactions with the event bus off and on, side by
// side (and the time from the pull's end to its last event confirmed), and change feed pages read
// per second after 1,000 and after 1,000,000 stored changes.
import { cpuSeconds, startChild } from "./processes.ts";
import { type CpuSplit, fakeOptions } from "./ingest_bench.ts";
import {
  createConnection,
  type FakeInfo,
  pullToEnd,
  verifyStored,
  watchServiceCpu,
} from "./pull_run.ts";
import { type BenchService, expectStatus, startBenchService } from "./service.ts";
import { bindQueue, createVhost } from "../tests/support/rabbitmq.ts";
import { waitFor } from "../tests/support/service.ts";

const round = (n: number, digits = 2) => Number(n.toFixed(digits));
/** How the bench polls the outbox: often, for a minute at most. */
const POLL = { timeoutMs: 60_000, intervalMs: 10 };

export interface BusResult {
  transactions: number;
  off: { seconds: number; perSecond: number; cpu: CpuSplit };
  on: {
    seconds: number;
    perSecond: number;
    events: number;
    lastEventLagMs: number;
    /** From the pull's request until its last event is confirmed: the relay's work included. */
    cpu: CpuSplit;
  };
  /** How much slower ingest is with the bus on: on seconds / off seconds. */
  slowdown: number;
}

/** The local RabbitMQ node's process (its Erlang VM), whose CPU the bus adds; none if remote. */
function brokerPid(): number | undefined {
  const found = new Deno.Command("pgrep", { args: ["-f", "beam.smp.*rabbit"], stdout: "piped" })
    .outputSync();
  const pid = Number(new TextDecoder().decode(found.stdout).split("\n")[0]);
  return pid > 0 ? pid : undefined;
}

/**
 * One pull of the whole fake into a fresh service, timed warm (after a pull of another
 * connection, as in the ingest bench), with the CPU each process spent; with `amqpUrl`, events on.
 */
async function ingest(
  fake: { info: FakeInfo; pid: number },
  transactions: number,
  amqpUrl?: string,
) {
  const service = await startBenchService({
    allowHost: fake.info.host,
    env: amqpUrl ? { MATCHER_AMQP_URL: amqpUrl } : {},
  });
  try {
    await pullToEnd(service, await createConnection(service, fake.info, "warm-up"));
    if (amqpUrl) await allSent(service);
    const connectionId = await createConnection(service, fake.info);
    const broker = brokerPid();
    const watch = await watchServiceCpu(service, cpuSeconds);
    const before = { fake: cpuSeconds(fake.pid), broker: broker ? cpuSeconds(broker) : 0 };
    const { seconds, pull } = await pullToEnd(service, connectionId);
    const lag = amqpUrl ? await lastEventLag(service, pull.id) : 0;
    const { service: serviceCpu, postgres } = await watch.stop();
    const used: CpuSplit = {
      wall: round(seconds + lag / 1000),
      fake: round(cpuSeconds(fake.pid) - before.fake),
      service: round(serviceCpu),
      postgres: round(postgres),
      ...(broker ? { broker: round(cpuSeconds(broker) - before.broker) } : {}),
    };
    await verifyStored(service, connectionId, transactions);
    if (!amqpUrl) return { seconds, cpu: used };
    const [{ events }] = await service.sql`
      select count(*)::int as events from event_outbox where connection_id = ${connectionId}`;
    return { seconds, events, lastEventLagMs: lag, cpu: used };
  } finally {
    await service.close();
  }
}

/** Waits until the relay has published every event written so far. */
async function allSent(service: BenchService): Promise<void> {
  await waitFor("the warm-up pull's events all confirmed", async () => {
    const [{ unsent }] = await service.sql`
      select count(*)::int as unsent from event_outbox where sent_at is null`;
    return unsent === 0;
  }, POLL);
}

/** From the pull's end (its finishing commit) to the broker's confirm of its completion event. */
async function lastEventLag(service: BenchService, pullId: string): Promise<number> {
  return await waitFor("the pull's completion confirmed", async () => {
    const [r] = await service.sql`
      select extract(epoch from (o.sent_at - p.finished_at)) * 1000 as ms
      from event_outbox o join pull_jobs p on p.id = ${pullId}
      where o.routing_key = 'discovery.pull.completed' and o.sent_at is not null
        and o.body::jsonb ->> 'pullId' = ${pullId}`;
    return r ? round(Number(r.ms), 1) : undefined;
  }, POLL);
}

export async function benchBus(transactions = 100_000, accounts = 4): Promise<BusResult> {
  const fake = await startChild<FakeInfo>("fake_pluggy_process.ts", [
    JSON.stringify(fakeOptions(transactions, accounts)),
  ]);
  const vhost = await createVhost();
  // A durable queue bound to every event, as a consumer's would be: the broker stores each one.
  const queue = await bindQueue(vhost.url());
  try {
    // Off and on in turns, the best of each: the machine's other load falls on both alike.
    const offs = [];
    const ons = [];
    for (let round = 0; round < 2; round++) {
      offs.push(await ingest(fake, transactions));
      ons.push(await ingest(fake, transactions, vhost.url()));
    }
    const off = offs.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
    const on = ons.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
    return {
      transactions,
      off: {
        seconds: round(off.seconds),
        perSecond: Math.round(transactions / off.seconds),
        cpu: off.cpu,
      },
      on: {
        seconds: round(on.seconds),
        perSecond: Math.round(transactions / on.seconds),
        events: on.events!,
        lastEventLagMs: on.lastEventLagMs!,
        cpu: on.cpu,
      },
      slowdown: round(on.seconds / off.seconds, 3),
    };
  } finally {
    await queue.close();
    await vhost.delete();
    await fake.stop();
  }
}

export interface FeedResult {
  small: { changes: number; pagesPerSecond: number };
  large: { changes: number; pagesPerSecond: number };
  /** Pages per second at 1,000,000 changes over pages per second at 1,000. */
  ratio: number;
  limit: number;
}

/** `n` changes for a new connection of `tenant`, written in transactions of 10,000 rows. */
async function seed(service: BenchService, tenant: string, n: number): Promise<string> {
  const [{ id }] = await service.sql`
    insert into connections (id, tenant_id, kind, connector_type, config_name, base_url,
      account_ref, sealed_credential)
    values (gen_random_uuid(), ${tenant}, 'aggregator', 'pluggy', ${`seed-${n}`},
      'https://api.pluggy.ai', 'item', '\\x00')
    returning id`;
  for (let from = 0; from < n; from += 10_000) {
    await service.sql`
      insert into transactions (tenant_id, connection_id, vendor, external_id, account_id, amount,
        direction, status, booking_date, description, raw)
      select ${tenant}, ${id}, 'pluggy', 'tx-' || g, 'acc-' || (g % 4), (g % 9973) / 100.0,
        'credit', 'posted', date '2026-01-01' + (g % 365), 'seeded transaction ' || g,
        jsonb_build_object('id', 'tx-' || g)
      from generate_series(${from}::int, ${Math.min(from + 10_000, n) - 1}::int) g`;
  }
  await service.sql`analyze transactions`;
  return id;
}

/** Reads `requests` feed pages of `limit` as `authorization`, each after a random saved cursor. */
async function readPages(
  service: BenchService,
  authorization: string,
  cursors: string[],
  requests: number,
  limit: number,
): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < requests; i++) {
    const after = cursors[Math.floor(Math.random() * cursors.length)];
    const res = await fetch(
      `${service.baseUrl}/v1/discovery/transactions/changes?limit=${limit}&after=${after}`,
      { headers: { Authorization: authorization } },
    );
    const page = await res.json();
    if (res.status !== 200 || page.items.length !== limit) {
      throw new Error(`a feed page answered ${res.status} with ${page.items?.length} items`);
    }
  }
  return requests / ((performance.now() - start) / 1000);
}

/** Cursors to start pages from: every `step`-th change of the tenant's feed, but the last page. */
async function cursorsOf(service: BenchService, tenant: string, step: number, limit: number) {
  const rows = await service.sql`
    select change_xid::text as x, change_seq::text as s from (
      select change_xid, change_seq, row_number() over (order by change_xid, change_seq) as n,
        count(*) over () as total
      from transactions where tenant_id = ${tenant}) r
    where n % ${step} = 0 and n <= total - ${limit}`;
  return rows.map((r) =>
    new TextEncoder().encode(JSON.stringify({ x: r.x, s: r.s }))
      .toBase64({ alphabet: "base64url", omitPadding: true })
  );
}

export async function benchFeed(
  large = 1_000_000,
  small = 1_000,
  limit = 100,
): Promise<FeedResult> {
  const service = await startBenchService();
  try {
    const otherTenant = crypto.randomUUID();
    await seed(service, service.tenant, small);
    await seed(service, otherTenant, large);
    expectStatus("the feed", await service.api("GET", "/v1/discovery/transactions/changes"), 200);
    const smallCursors = await cursorsOf(service, service.tenant, 1, limit);
    const largeCursors = await cursorsOf(service, otherTenant, 997, limit);
    const otherAuth = await service.authorizationFor(otherTenant);
    // Warm both up, then alternate, so that the machine's load falls on both alike.
    await readPages(service, service.authorization, smallCursors, 50, limit);
    await readPages(service, otherAuth, largeCursors, 50, limit);
    const rates = { small: [] as number[], large: [] as number[] };
    for (let round = 0; round < 4; round++) {
      rates.small.push(await readPages(service, service.authorization, smallCursors, 200, limit));
      rates.large.push(await readPages(service, otherAuth, largeCursors, 200, limit));
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      small: { changes: small, pagesPerSecond: Math.round(mean(rates.small)) },
      large: { changes: large, pagesPerSecond: Math.round(mean(rates.large)) },
      ratio: round(mean(rates.large) / mean(rates.small)),
      limit,
    };
  } finally {
    await service.close();
  }
}

if (import.meta.main) {
  const which = Deno.args[0] ?? "bus";
  console.log(JSON.stringify(which === "feed" ? await benchFeed() : await benchBus(), null, 2));
}
