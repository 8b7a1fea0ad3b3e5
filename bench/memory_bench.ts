// Benchmark 3: the service's peak memory while it pulls 1,000,000 transactions, against its own
// resident memory when idle after start.
import { fakeOptions } from "./ingest_bench.ts";
import { memoryBytes, sampleRss, startChild } from "./processes.ts";
import { createConnection, type FakeInfo, pullToEnd, verifyStored } from "./pull_run.ts";
import { startBenchService } from "./service.ts";

export interface MemoryResult {
  transactions: number;
  idleRssMb: number;
  /** VmHWM at the end of the pull: the kernel's own record of the peak. */
  peakRssMb: number;
  /** The largest VmRSS sampled every 100 ms during the pull. */
  sampledMaxRssMb: number;
  /** VmRSS over the pull, a sample every 5 s: [seconds since the request, MB]. */
  rssTimeline: Array<[number, number]>;
  /** The JavaScript heap in use (deno_heap_used_bytes on /metrics) every 5 s: [s, MB]. */
  heapTimeline: Array<[number, number]>;
  pullSeconds: number;
  perSecond: number;
  ratio: number;
}

const mb = (bytes: number) => Number((bytes / 1024 / 1024).toFixed(1));

/** Reads the service's heap in use from /metrics every `everyMs` until stopped. */
function sampleHeap(baseUrl: string, token: string, everyMs: number) {
  const timeline: Array<[number, number]> = [];
  const start = performance.now();
  const take = async () => {
    const res = await fetch(`${baseUrl}/metrics`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const value = /^deno_heap_used_bytes (\S+)$/m.exec(await res.text())?.[1];
    if (value) timeline.push([Math.round((performance.now() - start) / 1000), mb(Number(value))]);
  };
  let pending = take();
  const timer = setInterval(() => pending = pending.then(take, take), everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await pending.then(take, take);
      return timeline;
    },
  };
}

export async function benchMemory(transactions = 1_000_000, accounts = 4): Promise<MemoryResult> {
  const fake = await startChild<FakeInfo>("fake_pluggy_process.ts", [
    JSON.stringify(fakeOptions(transactions, accounts)),
  ]);
  try {
    const metricsToken = crypto.randomUUID();
    const service = await startBenchService({
      allowHost: fake.info.host,
      env: { MATCHER_METRICS_TOKEN: metricsToken },
    });
    try {
      const connectionId = await createConnection(service, fake.info);
      await new Promise((r) => setTimeout(r, 2_000)); // start-up work settles
      const idle = memoryBytes(service.pid, "VmRSS");
      const sampler = sampleRss(service.pid, 100);
      const heap = sampleHeap(service.baseUrl, metricsToken, 5_000);
      const { seconds } = await pullToEnd(service, connectionId, {
        pollMs: 250,
        timeoutMs: 420_000,
      });
      const { samples, maxBytes } = sampler.stop();
      const heapTimeline = await heap.stop();
      const peak = memoryBytes(service.pid, "VmHWM");
      await verifyStored(service, connectionId, transactions);
      return {
        transactions,
        idleRssMb: mb(idle),
        peakRssMb: mb(peak),
        sampledMaxRssMb: mb(maxBytes),
        rssTimeline: samples.filter((_, i) => i % 50 === 0).map((s) => [
          Math.round(s.atMs / 1000),
          mb(s.rssBytes),
        ]),
        heapTimeline,
        pullSeconds: Number(seconds.toFixed(1)),
        perSecond: Math.round(transactions / seconds),
        ratio: Number((peak / idle).toFixed(2)),
      };
    } finally {
      await service.close();
    }
  } finally {
    await fake.stop();
  }
}

if (import.meta.main) {
  const transactions = Number(Deno.args[0] ?? 1_000_000);
  console.log(JSON.stringify(await benchMemory(transactions), null, 2));
}
