// A small Prometheus metrics registry: counters, gauges and histograms with labels, rendered as text.
import { escapeHelp, isLabelName, isMetricName, sampleLine } from "./exposition.ts";
import { type Labels, seriesOf } from "./series.ts";

export type { Labels };

/** What every metric declares. Label values must stay few (ids at most, never tokens or paths). */
export interface MetricOptions<L extends string> {
  /** The full metric name, e.g. `matcher_pull_jobs_total` (counters end in `_total`). */
  name: string;
  /** One line saying what is counted or measured. */
  help: string;
  /** The label names, in the order they are written; none by default. */
  labelNames?: readonly L[];
}

/** A value that only goes up. */
export interface Counter<L extends string> {
  inc(labels: Labels<L>, by?: number): void;
}

/** A value that goes up and down. */
export interface Gauge<L extends string> {
  set(labels: Labels<L>, value: number): void;
  inc(labels: Labels<L>, by?: number): void;
}

/** Observations counted into cumulative buckets, with their sum and count. */
export interface Histogram<L extends string> {
  observe(labels: Labels<L>, value: number): void;
}

/** Where the service's metrics are declared and from which /metrics is rendered. */
export interface MetricsRegistry {
  counter<L extends string = never>(options: MetricOptions<L>): Counter<L>;
  /** `collect` runs before each render, to set values that are read rather than counted. */
  gauge<L extends string = never>(
    options: MetricOptions<L> & { collect?: (gauge: Gauge<L>) => void },
  ): Gauge<L>;
  /** `buckets` are the upper bounds, ascending; `+Inf` is added. */
  histogram<L extends string = never>(
    options: MetricOptions<L> & { buckets?: readonly number[] },
  ): Histogram<L>;
  /**
   * Registers an asynchronous read that `refresh` runs before a scrape, for values held elsewhere
   * (the database) that a synchronous `collect` cannot fetch. `read` sets its gauges itself.
   * Declares `matcher_metrics_refresh_failures_total{source,reason}` with the first refresher.
   */
  refresher(source: string, read: () => Promise<void>): void;
  /**
   * Runs every refresher, waiting at most `timeoutMs` for them, so that a slow database cannot
   * hang a scrape. A read that fails or is late leaves its metrics as they were; it is counted and
   * answered, for the caller to log. Only one read per refresher runs at a time: a scrape that
   * finds one under way waits for that one rather than starting another.
   */
  refresh(options?: { timeoutMs?: number }): Promise<RefreshFailure[]>;
  /** Every metric in the Prometheus text exposition format, in declaration order. */
  render(): string;
}

/** A refresher that did not finish in time, or threw (`error`, for a log line without details). */
export interface RefreshFailure {
  source: string;
  reason: "error" | "timeout";
  error?: unknown;
}

/** How long `refresh` waits for the refreshers by default: well inside a scrape timeout. */
export const REFRESH_TIMEOUT_MS = 2_000;

/** Prometheus' default buckets, in seconds: 5 ms to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

interface Metric {
  collect?: () => void;
  lines(): string[];
}

function header(name: string, help: string, type: string): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
}

/** An empty registry. */
export function createMetricsRegistry(): MetricsRegistry {
  const metrics = new Map<string, Metric>();
  const refreshers = new Map<string, { read: () => Promise<void>; running?: Promise<void> }>();
  let refreshFailures: Counter<"source" | "reason"> | undefined;

  function declare<L extends string>(options: MetricOptions<L>, reserved: string[] = []) {
    const labelNames = options.labelNames ?? [];
    if (!isMetricName(options.name)) throw new TypeError(`invalid metric name "${options.name}"`);
    if (metrics.has(options.name)) throw new TypeError(`metric "${options.name}" already exists`);
    for (const label of labelNames) {
      if (
        !isLabelName(label) || reserved.includes(label) ||
        labelNames.indexOf(label) !== labelNames.lastIndexOf(label)
      ) {
        throw new TypeError(`invalid label name "${label}" for ${options.name}`);
      }
    }
    return labelNames;
  }

  const registry: MetricsRegistry = {
    counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
      const { name, help } = options;
      const series = seriesOf(name, declare(options), () => ({ value: 0 }));
      metrics.set(name, {
        lines: () => [
          ...header(name, help, "counter"),
          ...series.sorted().map((s) => sampleLine(name, s.labels, s.state.value)),
        ],
      });
      return {
        inc(labels, by = 1) {
          if (!(by >= 0)) throw new RangeError(`${name} only goes up (inc by ${by})`);
          series.get(labels).value += by;
        },
      };
    },

    gauge<L extends string = never>(
      options: MetricOptions<L> & { collect?: (gauge: Gauge<L>) => void },
    ): Gauge<L> {
      const { name, help } = options;
      const series = seriesOf(name, declare(options), () => ({ value: 0 }));
      const gauge: Gauge<L> = {
        set(labels, value) {
          series.get(labels).value = value;
        },
        inc(labels, by = 1) {
          series.get(labels).value += by;
        },
      };
      metrics.set(name, {
        collect: options.collect && (() => options.collect!(gauge)),
        lines: () => [
          ...header(name, help, "gauge"),
          ...series.sorted().map((s) => sampleLine(name, s.labels, s.state.value)),
        ],
      });
      return gauge;
    },

    histogram<L extends string = never>(
      options: MetricOptions<L> & { buckets?: readonly number[] },
    ): Histogram<L> {
      const { name, help } = options;
      const bounds = [...(options.buckets ?? DEFAULT_BUCKETS)];
      if (
        bounds.length === 0 ||
        bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= bounds[i - 1]))
      ) {
        throw new TypeError(`${name} needs finite, strictly ascending buckets`);
      }
      const series = seriesOf(name, declare(options, ["le"]), () => ({
        counts: bounds.map(() => 0),
        sum: 0,
        count: 0,
      }));
      metrics.set(name, {
        lines: () => [
          ...header(name, help, "histogram"),
          ...series.sorted().flatMap(({ labels, state }) => {
            let cumulative = 0;
            const buckets = bounds.map((bound, i) => {
              cumulative += state.counts[i];
              return sampleLine(`${name}_bucket`, [...labels, ["le", String(bound)]], cumulative);
            });
            return [
              ...buckets,
              sampleLine(`${name}_bucket`, [...labels, ["le", "+Inf"]], state.count),
              sampleLine(`${name}_sum`, labels, state.sum),
              sampleLine(`${name}_count`, labels, state.count),
            ];
          }),
        ],
      });
      return {
        observe(labels, value) {
          if (Number.isNaN(value)) throw new RangeError(`${name} cannot observe NaN`);
          const state = series.get(labels);
          const i = bounds.findIndex((bound) => value <= bound);
          if (i >= 0) state.counts[i] += 1;
          state.sum += value;
          state.count += 1;
        },
      };
    },

    refresher(source, read) {
      if (refreshers.has(source)) throw new TypeError(`refresher "${source}" already exists`);
      refreshFailures ??= registry.counter({
        name: "matcher_metrics_refresh_failures_total",
        help: "Reads of metric values from elsewhere (the database) that failed or were too late.",
        labelNames: ["source", "reason"],
      });
      // Zeros from the start, so that an alert on an increase sees the first failure.
      refreshFailures.inc({ source, reason: "error" }, 0);
      refreshFailures.inc({ source, reason: "timeout" }, 0);
      refreshers.set(source, { read });
    },

    async refresh({ timeoutMs = REFRESH_TIMEOUT_MS } = {}) {
      const failures: RefreshFailure[] = [];
      await Promise.all([...refreshers].map(async ([source, refresher]) => {
        // Kept in a local: the read may settle (and clear `running`) before the race below.
        const running = refresher.running ??= refresher.read().finally(() => {
          refresher.running = undefined;
        });
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"late">((resolve) => {
          timer = setTimeout(() => resolve("late"), timeoutMs);
        });
        try {
          const done = await Promise.race([running.then(() => "done" as const), late]);
          if (done === "late") failures.push({ source, reason: "timeout" });
        } catch (error) {
          failures.push({ source, reason: "error", error });
        } finally {
          clearTimeout(timer);
        }
      }));
      for (const { source, reason } of failures) refreshFailures?.inc({ source, reason });
      return failures;
    },

    render(): string {
      for (const metric of metrics.values()) metric.collect?.();
      return [...metrics.values()].flatMap((m) => m.lines()).join("\n") + "\n";
    },
  };
  return registry;
}
