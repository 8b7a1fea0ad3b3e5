// The metrics registry: what it renders, how it escapes, and what it refuses to declare or record.
import assert from "node:assert/strict";
import { createMetricsRegistry } from "./registry.ts";
import { parseExposition, samplesOf } from "../../tests/support/prometheus.ts";

Deno.test("a counter renders HELP, TYPE and one sample per label combination, sorted", () => {
  const registry = createMetricsRegistry();
  const jobs = registry.counter({
    name: "test_jobs_total",
    help: "Jobs done.",
    labelNames: ["vendor", "outcome"],
  });
  jobs.inc({ vendor: "pluggy", outcome: "ok" });
  jobs.inc({ vendor: "belvo", outcome: "ok" }, 3);
  jobs.inc({ vendor: "pluggy", outcome: "ok" }, 2);
  assert.equal(
    registry.render(),
    [
      "# HELP test_jobs_total Jobs done.",
      "# TYPE test_jobs_total counter",
      'test_jobs_total{vendor="belvo",outcome="ok"} 3',
      'test_jobs_total{vendor="pluggy",outcome="ok"} 3',
      "",
    ].join("\n"),
  );
});

Deno.test("a counter without labels shows 0 before its first increment", () => {
  const registry = createMetricsRegistry();
  registry.counter({ name: "test_starts_total", help: "Starts." });
  assert.match(registry.render(), /^test_starts_total 0$/m);
});

Deno.test("label values with backslashes, quotes and line feeds are escaped and read back", () => {
  const registry = createMetricsRegistry();
  const counter = registry.counter({ name: "test_total", help: "x", labelNames: ["v"] });
  const awkward = 'a\\b"c\nd';
  counter.inc({ v: awkward });
  const text = registry.render();
  assert.ok(text.includes('v="a\\\\b\\"c\\nd"'), text);
  assert.deepEqual(samplesOf(parseExposition(text), "test_total")[0].labels, { v: awkward });
});

Deno.test("HELP text escapes backslashes and line feeds", () => {
  const registry = createMetricsRegistry();
  registry.counter({ name: "test_total", help: 'two\nlines with a \\ and a "quote"' });
  const text = registry.render();
  assert.match(text, /^# HELP test_total two\\nlines with a \\\\ and a "quote"$/m);
  assert.equal(parseExposition(text).help.get("test_total"), 'two\nlines with a \\ and a "quote"');
});

Deno.test("a histogram renders cumulative buckets, +Inf, sum and count", () => {
  const registry = createMetricsRegistry();
  const h = registry.histogram({
    name: "test_seconds",
    help: "Durations.",
    labelNames: ["route"],
    buckets: [0.01, 0.1, 1],
  });
  for (const v of [0.003, 0.01, 0.02, 0.5, 20]) h.observe({ route: "/x" }, v);
  const parsed = parseExposition(registry.render());
  assert.equal(parsed.types.get("test_seconds"), "histogram");
  const buckets = samplesOf(parsed, "test_seconds_bucket").map((s) => [s.labels.le, s.value]);
  assert.deepEqual(buckets, [["0.01", 2], ["0.1", 3], ["1", 4], ["+Inf", 5]], "le is inclusive");
  assert.equal(samplesOf(parsed, "test_seconds_sum")[0].value, 0.003 + 0.01 + 0.02 + 0.5 + 20);
  assert.equal(samplesOf(parsed, "test_seconds_count")[0].value, 5);
  assert.deepEqual(samplesOf(parsed, "test_seconds_count")[0].labels, { route: "/x" });
});

Deno.test("a gauge's collect runs at every render", () => {
  const registry = createMetricsRegistry();
  let reads = 0;
  registry.gauge({ name: "test_reads", help: "Reads.", collect: (g) => g.set({}, ++reads) });
  assert.match(registry.render(), /^test_reads 1$/m);
  assert.match(registry.render(), /^test_reads 2$/m);
});

Deno.test("metrics render in declaration order", () => {
  const registry = createMetricsRegistry();
  registry.gauge({ name: "zz_first", help: "1" });
  registry.counter({ name: "aa_second_total", help: "2" });
  const types = [...parseExposition(registry.render()).types.keys()];
  assert.deepEqual(types, ["zz_first", "aa_second_total"]);
});

Deno.test("the registry refuses a repeated or malformed metric name", () => {
  const registry = createMetricsRegistry();
  registry.counter({ name: "test_total", help: "x" });
  assert.throws(() => registry.gauge({ name: "test_total", help: "x" }), /already exists/);
  for (const name of ["", "9starts_with_digit", "has-dash", "has space"]) {
    assert.throws(() => registry.counter({ name, help: "x" }), /invalid metric name/, name);
  }
});

Deno.test("the registry refuses reserved, malformed and repeated label names", () => {
  const registry = createMetricsRegistry();
  const cases: [string, string[]][] = [
    ["a_total", ["__reserved"]],
    ["b_total", ["has-dash"]],
    ["c_total", ["twice", "twice"]],
  ];
  for (const [name, labelNames] of cases) {
    assert.throws(() => registry.counter({ name, help: "x", labelNames }), /invalid label name/);
  }
  assert.throws(
    () => registry.histogram({ name: "d_seconds", help: "x", labelNames: ["le"] }),
    /invalid label name "le"/,
  );
});

Deno.test("a histogram refuses empty, unsorted or infinite buckets", () => {
  const registry = createMetricsRegistry();
  for (const buckets of [[], [1, 0.5], [0.1, 0.1], [1, Infinity]]) {
    assert.throws(
      () => registry.histogram({ name: `h${buckets.length}_${buckets[0]}`, help: "x", buckets }),
      /ascending buckets/,
      JSON.stringify(buckets),
    );
  }
});

Deno.test("recording with missing or unknown labels is refused", () => {
  const registry = createMetricsRegistry();
  const counter = registry.counter({ name: "test_total", help: "x", labelNames: ["a", "b"] });
  const loose = counter as unknown as { inc(labels: Record<string, unknown>): void };
  assert.throws(() => loose.inc({ a: "1" }), /exactly the labels \[a, b\]/);
  assert.throws(() => loose.inc({ a: "1", b: "2", c: "3" }), /exactly the labels/);
  assert.throws(() => loose.inc({ a: "1", b: 2 }), /exactly the labels/);
  assert.doesNotMatch(registry.render(), /^test_total\{/m, "nothing was recorded");
});

Deno.test("a counter refuses to go down and a histogram refuses NaN", () => {
  const registry = createMetricsRegistry();
  const counter = registry.counter({ name: "test_total", help: "x" });
  assert.throws(() => counter.inc({}, -1), /only goes up/);
  assert.throws(() => counter.inc({}, NaN), /only goes up/);
  const h = registry.histogram({ name: "test_seconds", help: "x" });
  assert.throws(() => h.observe({}, NaN), /NaN/);
  assert.match(registry.render(), /^test_total 0$/m);
});

// Refreshers: values read from elsewhere before a scrape

/** The refresh failures counted so far, as "source reason" → count. */
function refreshFailures(text: string): Record<string, number> {
  return Object.fromEntries(
    samplesOf(parseExposition(text), "matcher_metrics_refresh_failures_total").map((
      { labels: { source, reason }, value },
    ) => [`${source} ${reason}`, value]),
  );
}

Deno.test("a refresher's values show after refresh, with its failure counts at zero", async () => {
  const registry = createMetricsRegistry();
  const depth = registry.gauge({ name: "test_depth", help: "x", labelNames: ["queue"] });
  let reads = 0;
  registry.refresher("queues", async () => {
    await Promise.resolve();
    depth.set({ queue: "a" }, ++reads);
  });
  assert.doesNotMatch(registry.render(), /^test_depth\{/m, "nothing is read before a refresh");
  assert.deepEqual(await registry.refresh(), []);
  assert.deepEqual(await registry.refresh(), []);
  const text = registry.render();
  assert.match(text, /^test_depth\{queue="a"\} 2$/m);
  assert.deepEqual(refreshFailures(text), { "queues error": 0, "queues timeout": 0 });
  assert.throws(() => registry.refresher("queues", async () => {}), /already exists/);
});

Deno.test("a refresher that throws leaves the last values, and is counted and answered", async () => {
  const registry = createMetricsRegistry();
  const depth = registry.gauge({ name: "test_depth", help: "x" });
  let fail = false;
  registry.refresher("db", async () => {
    await Promise.resolve();
    if (fail) {
      throw Object.assign(new Error("relation secret_table does not exist"), { code: "42P01" });
    }
    depth.set({}, 7);
  });
  await registry.refresh();
  fail = true;
  const failures = await registry.refresh();
  assert.deepEqual(failures.map(({ source, reason }) => ({ source, reason })), [
    { source: "db", reason: "error" },
  ]);
  assert.equal((failures[0].error as { code: string }).code, "42P01");
  const text = registry.render();
  assert.match(text, /^test_depth 7$/m);
  assert.deepEqual(refreshFailures(text), { "db error": 1, "db timeout": 0 });
});

Deno.test("a refresher that hangs costs a scrape at most the timeout, and runs once at a time", async () => {
  const registry = createMetricsRegistry();
  const depth = registry.gauge({ name: "test_depth", help: "x" });
  const hang = Promise.withResolvers<void>();
  let reads = 0;
  registry.refresher("slow", async () => {
    reads++;
    await hang.promise;
    depth.set({}, 3);
  });
  const started = performance.now();
  const [first, second] = await Promise.all([
    registry.refresh({ timeoutMs: 50 }),
    registry.refresh({ timeoutMs: 50 }),
  ]);
  assert.ok(performance.now() - started < 1_000, "the scrape went on without the value");
  assert.deepEqual([...first, ...second].map((f) => f.reason), ["timeout", "timeout"]);
  assert.equal(reads, 1, "the second scrape waited for the read under way");
  assert.match(registry.render(), /^test_depth 0$/m);
  assert.deepEqual(refreshFailures(registry.render()), { "slow error": 0, "slow timeout": 2 });

  hang.resolve();
  assert.deepEqual(await registry.refresh({ timeoutMs: 50 }), []);
  assert.match(registry.render(), /^test_depth 3$/m, "the late read landed");
  assert.equal(reads, 1, "that scrape joined the read under way");
  assert.deepEqual(await registry.refresh({ timeoutMs: 50 }), []);
  assert.equal(reads, 2, "a scrape after it starts a new read");
});
