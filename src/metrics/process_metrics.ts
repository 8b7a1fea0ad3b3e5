// Process basics on /metrics: resident memory, the JavaScript heap in use and the start time.
import type { MetricsRegistry } from "./registry.ts";

export interface ProcessSources {
  /** Defaults to Deno.memoryUsage. */
  memoryUsage?: () => { rss: number; heapUsed: number };
  /** Unix time in seconds when the process started; defaults to performance.timeOrigin. */
  startTimeSeconds?: number;
}

/** Declares `process_resident_memory_bytes`, `deno_heap_used_bytes` and `process_start_time_seconds`, read at each render. */
export function processMetrics(registry: MetricsRegistry, sources: ProcessSources = {}): void {
  const memoryUsage = sources.memoryUsage ?? (() => Deno.memoryUsage());
  const startTime = sources.startTimeSeconds ?? performance.timeOrigin / 1000;
  registry.gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    collect: (g) => g.set({}, memoryUsage().rss),
  });
  registry.gauge({
    name: "deno_heap_used_bytes",
    help: "JavaScript heap in use, in bytes.",
    collect: (g) => g.set({}, memoryUsage().heapUsed),
  });
  registry.gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since the Unix epoch, in seconds.",
    collect: (g) => g.set({}, startTime),
  });
}
