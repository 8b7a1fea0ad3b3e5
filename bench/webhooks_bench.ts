// Benchmark 1: webhook acknowledgements per second and their latency under wrk's steady load: the
// real service (every 2xx durable in Postgres, each token's limit counted, each delivery carrying
// its token's header secret) five times on one database that keeps its rows, against a naive
// receiver (one transaction per request), issue 15's lean reference (group commit, tokens in
// memory, nothing else) on Deno.serve and on node:http with issue 13's bounds, and a bare
// Deno.serve answering 202 (run first and last);
// the service behind a proxy and with no pull run during the load; then the service with those
// checks on against the service with them off, in alternating runs.
import { autocannon, type AutocannonResult, type LoadRequest, rate } from "./autocannon.ts";
import { wrk } from "./wrk.ts";
import { cpuSeconds, startChild } from "./processes.ts";
import { type CpuWatch, createConnection, type FakeInfo, watchServiceCpu } from "./pull_run.ts";
import { type BenchService, expectStatus, startBenchService } from "./service.ts";

export interface WebhookFigures {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  seconds: number;
}

export interface WebhookResult {
  connections: number;
  tokens: number;
  service: WebhookFigures & {
    /** Events stored during the timed run (between its 2xx count and the requests it sent). */
    storedEvents: number;
    /** A run to a fixed count after it: every answer read, so the two must be equal. */
    exactCheck: { acknowledged: number; stored: number };
    /** Pull jobs by status at the end: the workers ran during the load. */
    pulls: Record<string, number>;
    /** CPU seconds over the timed run, and per answer (service and Postgres together). */
    cpu: { wall: number; service: number; postgres: number; msPerRequest: number };
  };
  /** The same timed run again and again on the one database, its rows kept (autovacuum off). */
  steady: { perSecond: number[]; loss: number };
  /** The service under a light load (8 connections): latency when nothing queues. */
  light: WebhookFigures & { connections: number };
  /** One transaction per request, Hono and postgres.js, on the same database and tokens. */
  naive: WebhookFigures;
  /**
   * Issue 15's lean reference (lean_receiver.ts): group commit and one statement a batch, as the
   * service, with the tokens in memory and nothing else; on the same database and tokens, no pull
   * run. What the receipts alone are measured against: the same work on these cores.
   */
  lean: WebhookFigures & { bareRatio: number; cpuMsPerRequest: number };
  /**
   * The same lean reference served on node:http with the service's bounds on a slow client's
   * headers and request (issue 13), which Deno.serve 2.9 cannot set: the most a receiver that
   * keeps those bounds reaches here, whatever it does besides.
   */
  leanNode: WebhookFigures & { bareRatio: number; leanRatio: number; cpuMsPerRequest: number };
  /**
   * The service as deployed behind a proxy that bounds how requests arrive
   * (MATCHER_HTTP_HEADERS_TIMEOUT_MS=0: Deno.serve instead of node:http), the checks on, on a
   * fresh database.
   */
  proxied: WebhookFigures & { bareRatio: number; naiveRatio: number; cpuMsPerRequest: number };
  /**
   * The receipts alone: a fresh service whose pulls come due only after the run
   * (MATCHER_PULL_WEBHOOK_DELAY_MS=600000), so that none runs during it. The pulls are still
   * queued and merged in the same statement; what is left out is their vendor calls and page
   * stores, which the naive receiver and the bare server do not do either.
   */
  receiptsAlone: WebhookFigures & {
    bareRatio: number;
    naiveRatio: number;
    leanRatio: number;
    cpuMsPerRequest: number;
  };
  /** The faster of two runs of the bare server, one before the service's and one at the end. */
  bare: WebhookFigures & {
    cpu: { wall: number; server: number; msPerRequest: number };
    /** 202s per second of each run. */
    runs: number[];
  };
  /** The service ÷ the bare server, and ÷ the naive receiver. */
  ratio: number;
  naiveRatio: number;
  /** The per-token limit and header secrets on, against both off, in alternating runs. */
  limits: LimitsComparison;
}

export interface LimitsComparison {
  /** Seconds of each run, and runs of each side. */
  seconds: number;
  runs: number;
  /** 202s per second and the service's CPU ms per 202, run by run. */
  on: { perSecond: number[]; cpuMsPerRequest: number[] };
  off: { perSecond: number[]; cpuMsPerRequest: number[] };
  /** Every run's 202s on ÷ off, summed; and the CPU per 202, on ÷ off. */
  ratio: number;
  cpuRatio: number;
}

/** Requests of the fixed-count run that checks stored against acknowledged exactly. */
const EXACT_RUN = 1_000;
const round = (n: number, digits = 2) => Number(n.toFixed(digits));

/** CPU ms a 2xx of a timed run, the process and its Postgres backends together. */
const msPer2xx = (used: { service: number; postgres: number }, run: AutocannonResult) =>
  round(1000 * (used.service + used.postgres) / run["2xx"], 3);

export interface WebhookOptions {
  connections?: number;
  tokens?: number;
  seconds?: number;
  warmupSeconds?: number;
  /** Timed runs of the service one after the other on one database (the steady-state figure). */
  runs?: number;
  /** Connections of the light-load run. */
  lightConnections?: number;
  /** Runs of each side in the limits comparison, and their length. */
  compareRuns?: number;
  compareSeconds?: number;
}

/**
 * The receipt path's checks on: each token's deliveries counted against a quota no run reaches
 * (so every delivery is checked and none refused), and every token minted with a header secret.
 * The benchmark service otherwise runs with every limit off.
 */
const CHECKS_ON = { MATCHER_WEBHOOK_RATE_PER_TOKEN_PER_MINUTE: "1000000000" };

/** A receiver's path and the headers its deliveries carry. */
interface Target {
  path: string;
  headers: Record<string, string>;
}

/**
 * Connections of the tenant on the fake's item, each with a minted token (with a header secret
 * when `withHeaderSecret`): the receivers' paths and the headers to send.
 */
async function webhookTargets(
  service: BenchService,
  fake: FakeInfo,
  tokens: number,
  withHeaderSecret: boolean,
): Promise<Target[]> {
  const targets: Target[] = [];
  for (let i = 0; i < tokens; i++) {
    const configName = `pluggy-${i}`;
    await createConnection(service, fake, configName);
    const minted = expectStatus(
      "mint a token",
      await service.api("POST", "/v1/discovery/webhooks/tokens", {
        vendor: "pluggy",
        connection_config_name: configName,
        withHeaderSecret,
      }),
      201,
    );
    // PORT=0 leaves the public URL's port wrong; the path is what the receiver reads.
    targets.push({
      path: new URL(minted.webhookUrl).pathname,
      headers: minted.header ? { [minted.header.name]: minted.header.value } : {},
    });
  }
  return targets;
}

/** Pluggy's `item/updated` for the item, with `[<id>]` for autocannon to make each eventId unique. */
function itemUpdated(fake: FakeInfo): string {
  const { id, clientUserId } = fake.items[0];
  return JSON.stringify({
    event: "item/updated",
    eventId: "[<id>]",
    id,
    itemId: id,
    triggeredBy: "SYNC",
    clientUserId,
  });
}

function requestsTo(base: string, targets: Target[], body: string): LoadRequest[] {
  return targets.map(({ path, headers }) => ({
    method: "POST",
    url: `${base}${path}`,
    headers: { "content-type": "application/json", ...headers },
    body,
  }));
}

function checkClean(what: string, r: AutocannonResult, amount?: number) {
  if (r.errors || r.timeouts || r.non2xx || (amount !== undefined && r["2xx"] !== amount)) {
    throw new Error(
      `${what}: ${r["2xx"]} 2xx of ${amount ?? "?"}, ${r.non2xx} non-2xx, ${r.errors} errors, ` +
        `${r.timeouts} timeouts`,
    );
  }
}

function figuresOf(run: AutocannonResult): WebhookFigures {
  return {
    perSecond: Math.round(rate(run)),
    p50Ms: run.latency.p50,
    p99Ms: run.latency.p99,
    requests: run["2xx"],
    seconds: Number(((Date.parse(run.finish) - Date.parse(run.start)) / 1000).toFixed(2)),
  };
}

/** A timed warm-up with wrk (discarded), then the timed run that gives the figures. */
async function measure(
  requests: LoadRequest[],
  options: Required<WebhookOptions>,
  between: (warm: AutocannonResult) => Promise<void> = async () => {},
): Promise<{ figures: WebhookFigures; run: AutocannonResult }> {
  const { connections, seconds, warmupSeconds } = options;
  const warm = await wrk({ requests, connections, seconds: warmupSeconds });
  checkClean("warm-up", warm);
  await between(warm);
  const run = await wrk({ requests, connections, seconds });
  checkClean("measured run", run);
  return { run, figures: figuresOf(run) };
}

/**
 * A timed run stops with answers in flight: their events may be stored though no 2xx was read.
 * So at least every acknowledged one is stored, and no more than were sent.
 */
function checkTimedRun(what: string, run: AutocannonResult, stored: number) {
  if (stored < run["2xx"] || stored > run.requests.sent) {
    throw new Error(
      `${what}: ${run["2xx"]} acknowledged of ${run.requests.sent} sent, ${stored} events stored`,
    );
  }
}

/** The count of stored events once it stops moving (answers still in flight commit meanwhile). */
async function settledEvents(service: BenchService): Promise<number> {
  const count = async () =>
    (await service.sql`select count(*)::int as n from webhook_events`)[0].n as number;
  let last = await count();
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await count();
    if (now === last) return now;
    last = now;
  }
}

export async function benchWebhooks(options: WebhookOptions = {}): Promise<WebhookResult> {
  const o = {
    connections: 50,
    tokens: 50,
    seconds: 10,
    warmupSeconds: 2,
    runs: 5,
    lightConnections: 8,
    compareRuns: 4,
    compareSeconds: 5,
    ...options,
  };
  const fake = await startChild<FakeInfo>("fake_pluggy_process.ts", ["{}"]);
  try {
    const body = itemUpdated(fake.info);
    const bareFirst = await measureBare(body, o);
    let service: WebhookResult["service"];
    let steady: WebhookResult["steady"];
    let light: WebhookResult["light"];
    let naive: WebhookResult["naive"];
    let lean: Omit<WebhookResult["lean"], "bareRatio">;
    let leanNode: Omit<WebhookResult["leanNode"], "bareRatio" | "leanRatio">;
    const svc = await startBenchService({ allowHost: fake.info.host, env: CHECKS_ON });
    try {
      const paths = await webhookTargets(svc, fake.info, o.tokens, true);
      const requests = requestsTo(svc.baseUrl, paths, body);
      let before = 0;
      let cpu: CpuWatch | undefined;
      const { figures, run } = await measure(requests, o, async (warm) => {
        before = await settledEvents(svc);
        checkTimedRun("warm-up", warm, before);
        cpu = await watchServiceCpu(svc, cpuSeconds);
      });
      const used = await cpu!.stop();
      const cpuSplit = {
        wall: figures.seconds,
        service: round(used.service),
        postgres: round(used.postgres),
        msPerRequest: msPer2xx(used, run),
      };
      const after = await settledEvents(svc);
      checkTimedRun("measured run", run, after - before);

      // The same run again on the grown tables: plans must not depend on when they were analyzed.
      const perSecond = [figures.perSecond];
      for (let i = 1; i < o.runs; i++) {
        const again = await wrk({ requests, connections: o.connections, seconds: o.seconds });
        checkClean(`steady run ${i + 1}`, again);
        perSecond.push(Math.round(rate(again)));
      }
      steady = { perSecond, loss: round(1 - perSecond.at(-1)! / perSecond[0], 3) };

      const lightRun = await wrk({ requests, connections: o.lightConnections, seconds: o.seconds });
      checkClean("light-load run", lightRun);
      light = { ...figuresOf(lightRun), connections: o.lightConnections };

      // A run to a fixed count ends with every answer read: then stored equals acknowledged.
      const counted = await settledEvents(svc);
      const exact = await autocannon({ requests, connections: o.connections, amount: EXACT_RUN });
      checkClean("fixed-count run", exact, EXACT_RUN);
      const stored = await settledEvents(svc) - counted;
      if (stored !== exact["2xx"]) {
        throw new Error(`${exact["2xx"]} webhooks acknowledged but ${stored} events stored`);
      }
      const pulls = await svc.sql`select status, count(*)::int as n from pull_jobs group by status`;
      service = {
        ...figures,
        storedEvents: after - before,
        exactCheck: { acknowledged: exact["2xx"], stored },
        pulls: Object.fromEntries(pulls.map((p) => [p.status, p.n])),
        cpu: cpuSplit,
      };

      // The naive receiver on the same database and KV, the service stopped.
      await svc.stop();
      const naiveServer = await startChild<{ url: string }>("naive_receiver.ts", [
        svc.databaseUrl,
        svc.kvPath,
      ]);
      try {
        naive = (await measure(requestsTo(naiveServer.info.url, paths, body), o)).figures;
      } finally {
        await naiveServer.stop();
      }
      lean = await measureLean(svc, paths, body, o, "deno");
      leanNode = await measureLean(svc, paths, body, o, "node");
    } finally {
      await svc.close();
    }

    const proxied = await freshService(fake.info, body, o, {
      MATCHER_HTTP_HEADERS_TIMEOUT_MS: "0",
    });
    // Pulls come due 10 minutes after their first event: queued and merged, none run in the run.
    const receiptsAlone = await freshService(fake.info, body, o, {
      MATCHER_PULL_WEBHOOK_DELAY_MS: "600000",
    });

    const limits = await compareLimits(fake.info, body, o);
    // The bare server at the start and at the end: the faster of the two is the baseline, so that
    // a moment the machine was slow (other tenants of a VM) cannot flatter the ratios.
    const bareRuns = [bareFirst, await measureBare(body, o)];
    const faster = bareRuns[1].perSecond > bareRuns[0].perSecond ? bareRuns[1] : bareRuns[0];
    const bare = { ...faster, runs: bareRuns.map((b) => b.perSecond) };
    return {
      connections: o.connections,
      tokens: o.tokens,
      service,
      steady,
      light,
      naive,
      lean: { ...lean, bareRatio: round(lean.perSecond / bare.perSecond, 3) },
      leanNode: {
        ...leanNode,
        bareRatio: round(leanNode.perSecond / bare.perSecond, 3),
        leanRatio: round(leanNode.perSecond / lean.perSecond),
      },
      proxied: {
        ...proxied,
        bareRatio: round(proxied.perSecond / bare.perSecond, 3),
        naiveRatio: round(proxied.perSecond / naive.perSecond),
      },
      receiptsAlone: {
        ...receiptsAlone,
        bareRatio: round(receiptsAlone.perSecond / bare.perSecond, 3),
        naiveRatio: round(receiptsAlone.perSecond / naive.perSecond),
        leanRatio: round(receiptsAlone.perSecond / lean.perSecond),
      },
      bare,
      ratio: Number((service.perSecond / bare.perSecond).toFixed(3)),
      naiveRatio: Number((service.perSecond / naive.perSecond).toFixed(2)),
      limits,
    };
  } finally {
    await fake.stop();
  }
}

/** The bare Deno.serve child under the same load: its figures and its CPU per request. */
async function measureBare(
  body: string,
  o: Required<WebhookOptions>,
): Promise<Omit<WebhookResult["bare"], "runs">> {
  const bareServer = await startChild<{ url: string }>("bare_server.ts", ["webhook"]);
  try {
    const paths = requestsTo(
      bareServer.info.url,
      [...Array(o.tokens).keys()].map((i) => ({
        path: `/v1/discovery/webhooks/pluggy/mwh_bench${i}`,
        headers: {},
      })),
      body,
    );
    let before = 0;
    const { figures } = await measure(paths, o, () => {
      before = cpuSeconds(bareServer.pid);
      return Promise.resolve();
    });
    const cpu = cpuSeconds(bareServer.pid) - before;
    return {
      ...figures,
      cpu: {
        wall: figures.seconds,
        server: round(cpu),
        msPerRequest: round(1000 * cpu / figures.requests, 3),
      },
    };
  } finally {
    await bareServer.stop();
  }
}

/** The lean reference on `svc`'s database and tokens (the service stopped), on either server. */
async function measureLean(
  svc: BenchService,
  paths: Target[],
  body: string,
  o: Required<WebhookOptions>,
  server: "deno" | "node",
): Promise<WebhookFigures & { cpuMsPerRequest: number }> {
  const lean = await startChild<{ url: string }>("lean_receiver.ts", [
    svc.databaseUrl,
    svc.kvPath,
    server,
  ]);
  try {
    let cpu: CpuWatch | undefined;
    let before = 0;
    const { figures, run } = await measure(requestsTo(lean.info.url, paths, body), o, async () => {
      before = await settledEvents(svc);
      cpu = await watchServiceCpu({ ...svc, pid: lean.pid }, cpuSeconds);
    });
    const used = await cpu!.stop();
    checkTimedRun(`the lean reference on ${server}`, run, await settledEvents(svc) - before);
    return { ...figures, cpuMsPerRequest: msPer2xx(used, run) };
  } finally {
    await lean.stop();
  }
}

/** A fresh service with the checks on and `env`, measured as the first one is (CPU included). */
async function freshService(
  fake: FakeInfo,
  body: string,
  o: Required<WebhookOptions>,
  env: Record<string, string>,
): Promise<WebhookFigures & { cpuMsPerRequest: number }> {
  const svc = await startBenchService({ allowHost: fake.host, env: { ...CHECKS_ON, ...env } });
  try {
    const paths = await webhookTargets(svc, fake, o.tokens, true);
    let cpu: CpuWatch | undefined;
    const { figures, run } = await measure(requestsTo(svc.baseUrl, paths, body), o, async () => {
      cpu = await watchServiceCpu(svc, cpuSeconds);
    });
    const used = await cpu!.stop();
    return {
      ...figures,
      cpuMsPerRequest: msPer2xx(used, run),
    };
  } finally {
    await svc.close();
  }
}

/**
 * Two fresh services, one with the receipt path's checks on (CHECKS_ON and header secrets) and
 * one with them off, under the same load in alternating runs (on, off, off, on, ...), so that the
 * machine's drift falls on both sides alike.
 */
async function compareLimits(
  fake: FakeInfo,
  body: string,
  o: Required<WebhookOptions>,
): Promise<LimitsComparison> {
  const on = await startBenchService({ allowHost: fake.host, env: CHECKS_ON });
  const off = await startBenchService({ allowHost: fake.host });
  try {
    const sides = [
      {
        svc: on,
        requests: requestsTo(on.baseUrl, await webhookTargets(on, fake, o.tokens, true), body),
      },
      {
        svc: off,
        requests: requestsTo(off.baseUrl, await webhookTargets(off, fake, o.tokens, false), body),
      },
    ];
    for (const side of sides) {
      const warm = await wrk({
        requests: side.requests,
        connections: o.connections,
        seconds: o.warmupSeconds,
      });
      checkClean("limits warm-up", warm);
    }
    const perSecond: number[][] = [[], []];
    const cpu: number[][] = [[], []];
    for (let run = 0; run < 2 * o.compareRuns; run++) {
      const side = [0, 1, 1, 0][run % 4];
      const { svc, requests } = sides[side];
      const before = cpuSeconds(svc.pid);
      const result = await wrk({ requests, connections: o.connections, seconds: o.compareSeconds });
      checkClean(`limits ${side === 0 ? "on" : "off"} run`, result);
      perSecond[side].push(Math.round(rate(result)));
      cpu[side].push(round(1000 * (cpuSeconds(svc.pid) - before) / result["2xx"], 3));
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return {
      seconds: o.compareSeconds,
      runs: o.compareRuns,
      on: { perSecond: perSecond[0], cpuMsPerRequest: cpu[0] },
      off: { perSecond: perSecond[1], cpuMsPerRequest: cpu[1] },
      ratio: round(sum(perSecond[0]) / sum(perSecond[1]), 3),
      cpuRatio: round(sum(cpu[0]) / sum(cpu[1]), 3),
    };
  } finally {
    await on.close();
    await off.close();
  }
}

if (import.meta.main) {
  const [connections = 50, tokens = 50] = Deno.args.map(Number);
  console.log(JSON.stringify(await benchWebhooks({ connections, tokens }), null, 2));
}
