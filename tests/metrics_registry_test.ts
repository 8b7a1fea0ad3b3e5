// The metrics registry: what it renders, how it escapes, and what it refuses to declare or record.
import assert from "node:assert/strict";
import { createMetricsRegistry } from "../src/metrics/registry.ts";
import { parseExposition, samplesOf } from "./support/prometheus.ts";

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
