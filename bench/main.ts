// `deno task bench [webhooks|ingest|list|memory|bus|feed ...]`: runs the benchmarks, prints a table and,
// when all of them ran, writes bench/results.json. Exits 1 when any run or its checks failed.
import { benchBus, benchFeed } from "./events_bench.ts";
import { benchIngest, type CpuSplit } from "./ingest_bench.ts";
import { benchList } from "./list_bench.ts";
import { describeCommit, describeMachine } from "./machine.ts";
import { benchMemory } from "./memory_bench.ts";
import { renderTable, type Row } from "./table.ts";
import { benchWebhooks } from "./webhooks_bench.ts";

interface Target {
  /** What the target says, e.g. "ratio ≥ 0.3". */
  text: string;
  met: boolean;
  /** How far a missed target is, e.g. "10.0× short". */
  gap?: string;
}

interface Benchmark<R> {
  name: string;
  run(): Promise<R>;
  target(result: R): Target;
  rows(result: R): Row[];
}

/** The CPU seconds a pull cost the service, its Postgres backends and the local broker. */
const busCpu = (cpu: CpuSplit) =>
  Number(((cpu.service ?? 0) + (cpu.postgres ?? 0) + (cpu.broker ?? 0)).toFixed(2));

const times = (have: number, want: number) => `${(want / have).toFixed(1)}× short`;

const BENCHMARKS = [
  {
    name: "webhooks",
    run: () => benchWebhooks(),
    target: (r) => {
      const misses = [
        r.ratio >= 0.15 ? "" : `${times(r.ratio, 0.15)} of 0.15× bare`,
        r.naiveRatio >= 3 ? "" : `${times(r.naiveRatio, 3)} of 3× naive`,
        r.light.p99Ms < 25 ? "" : `p99 ${r.light.p99Ms} ms at ${r.light.connections} conns`,
        r.steady.loss <= 0.1 ? "" : `lost ${(r.steady.loss * 100).toFixed(0)}% by run 5`,
        r.limits.ratio >= 0.95 ? "" : `checks on ${r.limits.ratio}× off`,
      ].filter(Boolean);
      return {
        text:
          "≥ 0.15× bare, ≥ 3× naive, p99 < 25 ms at 8, ≤ 10% lost by run 5, checks on ≥ 0.95× off",
        met: misses.length === 0,
        gap: misses.join("; ") || undefined,
      };
    },
    rows: (r) => [
      [
        "webhooks: 202s per second (÷ bare, the faster of 2 runs)",
        r.service.perSecond,
        `${r.bare.perSecond} (${r.bare.runs.join(", ")})`,
        r.ratio,
      ],
      ["webhooks: 202s per second (÷ naive)", r.service.perSecond, r.naive.perSecond, r.naiveRatio],
      [
        "webhooks: behind a proxy, Deno.serve (÷ bare, ÷ naive)",
        r.proxied.perSecond,
        `${r.bare.perSecond}, ${r.naive.perSecond}`,
        `${r.proxied.bareRatio}, ${r.proxied.naiveRatio}`,
      ],
      [
        "webhooks: receipts alone, no pull run (÷ bare, ÷ naive)",
        r.receiptsAlone.perSecond,
        `${r.bare.perSecond}, ${r.naive.perSecond}`,
        `${r.receiptsAlone.bareRatio}, ${r.receiptsAlone.naiveRatio}`,
      ],
      [
        "webhooks: issue 15's lean reference, no pull run (÷ bare); receipts alone ÷ lean",
        r.lean.perSecond,
        r.bare.perSecond,
        `${r.lean.bareRatio}; ${r.receiptsAlone.leanRatio}`,
      ],
      [
        "webhooks: the lean reference on node:http with issue 13's bounds (÷ bare; ÷ lean)",
        r.leanNode.perSecond,
        r.bare.perSecond,
        `${r.leanNode.bareRatio}; ${r.leanNode.leanRatio}`,
      ],
      [
        "webhooks: p50 / p99 ms (50 conns)",
        `${r.service.p50Ms} / ${r.service.p99Ms}`,
        `${r.bare.p50Ms} / ${r.bare.p99Ms}`,
        "",
      ],
      [
        `webhooks: p50 / p99 ms (${r.light.connections} conns)`,
        `${r.light.p50Ms} / ${r.light.p99Ms}`,
        "",
        "",
      ],
      [
        "webhooks: runs 1..5 on one database",
        r.steady.perSecond.join(" "),
        "",
        Number((1 - r.steady.loss).toFixed(3)),
      ],
      [
        "webhooks: CPU ms per request (with pulls; receipts alone; lean; lean on node:http)",
        [
          r.service.cpu.msPerRequest,
          r.receiptsAlone.cpuMsPerRequest,
          r.lean.cpuMsPerRequest,
          r.leanNode.cpuMsPerRequest,
        ].join("; "),
        r.bare.cpu.msPerRequest,
        "",
      ],
      [
        "webhooks: 202s/s, token limit + header secret on (÷ off)",
        r.limits.on.perSecond.join(" "),
        r.limits.off.perSecond.join(" "),
        r.limits.ratio,
      ],
      [
        "webhooks: service CPU ms per 202, on (÷ off)",
        r.limits.on.cpuMsPerRequest.join(" "),
        r.limits.off.cpuMsPerRequest.join(" "),
        r.limits.cpuRatio,
      ],
    ],
  } satisfies Benchmark<Awaited<ReturnType<typeof benchWebhooks>>>,
  {
    name: "ingest",
    run: () => benchIngest(),
    target: (r) => {
      const misses = [
        r.ratio >= 0.65 ? "" : `${times(r.ratio, 0.65)} of 0.65× the SDK`,
        r.latency.ratio >= 3.5 ? "" : `${times(r.latency.ratio, 3.5)} of 3.5× at latency`,
      ].filter(Boolean);
      return {
        text: "≥ 0.65× SDK fetch-only; ≥ 3.5× sequential SDK at 150 ms a page",
        met: misses.length === 0,
        gap: misses.join("; ") || undefined,
      };
    },
    rows: (r) => [
      [
        `pull: transactions per second (${r.transactions / 1000}k; SDK fetching only)`,
        r.service.perSecond,
        r.sdk.perSecond,
        r.ratio,
      ],
      [
        `pull: seconds, ${r.latency.pageDelayMs} ms a page (${r.latency.transactions / 1000}k; ` +
        "sequential SDK)",
        r.latency.serviceSeconds,
        r.latency.sdkSeconds,
        r.latency.ratio,
      ],
    ],
  } satisfies Benchmark<Awaited<ReturnType<typeof benchIngest>>>,
  {
    name: "list",
    run: () => benchList(),
    target: (r) => ({
      text: "p99 < 15 ms",
      met: r.service.p99Ms < 15,
      gap: r.service.p99Ms < 15 ? undefined : `${(r.service.p99Ms - 15).toFixed(1)} ms over`,
    }),
    rows: (r) => [
      [
        `list: p50 / p99 ms (limit ${r.limit})`,
        `${r.service.p50Ms} / ${r.service.p99Ms}`,
        `${r.bare.p50Ms} / ${r.bare.p99Ms}`,
        r.ratio,
      ],
      [
        "list: first page p50 / p99 ms, read limit on (÷ off)",
        `${r.limits.on.p50Ms} / ${r.limits.on.p99Ms}`,
        `${r.limits.off.p50Ms} / ${r.limits.off.p99Ms}`,
        r.limits.p50Ratio,
      ],
    ],
  } satisfies Benchmark<Awaited<ReturnType<typeof benchList>>>,
  {
    name: "memory",
    run: () => benchMemory(),
    target: (r) => ({
      text: "peak < 300 MB",
      met: r.peakRssMb < 300,
      gap: r.peakRssMb < 300 ? undefined : `${(r.peakRssMb - 300).toFixed(0)} MB over`,
    }),
    rows: (r) => [
      [
        `memory: peak RSS MB (${r.transactions / 1e6}M pulled)`,
        r.peakRssMb,
        `${r.idleRssMb} idle`,
        r.ratio,
      ],
    ],
  } satisfies Benchmark<Awaited<ReturnType<typeof benchMemory>>>,
  {
    name: "bus",
    run: () => benchBus(),
    target: (r) => ({
      text: "≤ 15% slower",
      met: r.slowdown <= 1.15,
      gap: r.slowdown <= 1.15 ? undefined : `${((r.slowdown - 1.15) * 100).toFixed(0)} points over`,
    }),
    rows: (r) => [
      [
        `pull with events: transactions per second (${r.transactions / 1000}k)`,
        r.on.perSecond,
        `${r.off.perSecond} off`,
        r.slowdown,
      ],
      [
        "pull with events: CPU s of the service, Postgres and RabbitMQ",
        busCpu(r.on.cpu),
        `${busCpu(r.off.cpu)} off`,
        Number((busCpu(r.on.cpu) / busCpu(r.off.cpu)).toFixed(2)),
      ],
      [
        `events: pull's end to last event confirmed ms (${r.on.events} events)`,
        r.on.lastEventLagMs,
        "",
        "",
      ],
    ],
  } satisfies Benchmark<Awaited<ReturnType<typeof benchBus>>>,
  {
    name: "feed",
    run: () => benchFeed(),
    target: (r) => ({
      text: "ratio ≥ 0.8",
      met: r.ratio >= 0.8,
      gap: r.ratio >= 0.8 ? undefined : times(r.ratio, 0.8),
    }),
    rows: (r) => [
      [
        `feed: pages of ${r.limit} per second (${r.large.changes / 1e6}M vs ${
          r.small.changes / 1e3
        }k changes)`,
        r.large.pagesPerSecond,
        r.small.pagesPerSecond,
        r.ratio,
      ],
    ],
  } satisfies Benchmark<Awaited<ReturnType<typeof benchFeed>>>,
] as Benchmark<unknown>[];

const wanted = Deno.args.filter((a) => !a.startsWith("-"));
const unknown = wanted.filter((w) => !BENCHMARKS.some((b) => b.name === w));
if (unknown.length) {
  console.error(
    `unknown benchmark ${unknown.join(", ")}; choose from ${
      BENCHMARKS.map((b) => b.name).join(", ")
    }`,
  );
  Deno.exit(2);
}
const chosen = wanted.length ? BENCHMARKS.filter((b) => wanted.includes(b.name)) : BENCHMARKS;

const started = performance.now();
const machine = await describeMachine();
const loadBefore = Deno.loadavg();
const results: Record<string, unknown> = {};
const rows: Row[] = [];
const failures: Array<{ benchmark: string; error: string }> = [];
for (const b of chosen) {
  console.error(`running ${b.name} ...`);
  const t0 = performance.now();
  try {
    const result = await b.run();
    const target = b.target(result);
    const seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
    results[b.name] = { ...(result as object), target, seconds };
    for (const [i, row] of b.rows(result).entries()) {
      rows.push(
        i === 0
          ? [...row, target.text, target.met ? "yes" : `no: ${target.gap}`]
          : [...row, "", ""],
      );
    }
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    failures.push({ benchmark: b.name, error });
    results[b.name] = { error };
    rows.push([`${b.name}: FAILED`, "", "", "", "", error.slice(0, 60)]);
  }
}

const record = {
  runAt: new Date().toISOString(),
  commit: await describeCommit(),
  machine,
  loadAverage: { before: loadBefore, after: Deno.loadavg() },
  seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  benchmarks: results,
  failures,
};
console.log(renderTable(
  ["measure", "service", "baseline", "ratio", "target", "met"],
  rows,
));
console.log(
  `\n${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGb} GB; Deno ${machine.deno}; ` +
    `${machine.postgres.split(" on ")[0]}; load average ${
      loadBefore.map((l) => l.toFixed(1)).join(" ")
    }; ` +
    `${record.seconds} s`,
);
if (chosen.length === BENCHMARKS.length) {
  const path = new URL("./results.json", import.meta.url).pathname;
  await Deno.writeTextFile(path, JSON.stringify(record, null, 2) + "\n");
  console.log(`wrote ${path}`);
} else {
  console.log("(a partial run: bench/results.json is written only when every benchmark runs)");
}
for (const f of failures) console.error(`FAILED ${f.benchmark}: ${f.error}`);
Deno.exit(failures.length ? 1 : 0);
