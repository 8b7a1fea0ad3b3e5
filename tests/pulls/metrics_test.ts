// The webhook and pull metrics on /metrics: exact after a known sequence, read from Postgres at each
// scrape, still served (with the last values) when the database fails or blocks, and free of ids.
import assert from "node:assert/strict";
import { parseExposition, samplesOf } from "../support/prometheus.ts";
import { deliver, testClock, wirePluggy } from "../support/pulls.ts";

const METRICS_TOKEN = "pull-metrics-canary-token-0123456789abcdef";
const STATUSES = ["dead", "failed", "queued", "retrying", "running", "succeeded"];
const OUTCOMES = [
  "abandoned",
  "crashed",
  "dead",
  "failed",
  "lost",
  "released",
  "retrying",
  "succeeded",
];

type Wired = Awaited<ReturnType<typeof wirePluggy>>;

async function scrape(w: Wired): Promise<string> {
  const res = await w.h.request("/metrics", {
    headers: { Authorization: `Bearer ${METRICS_TOKEN}` },
  });
  assert.equal(res.status, 200);
  return await res.text();
}

/** The samples of `name` as "label value" → value, for the one label it has. */
function byLabel(text: string, name: string, label: string): Record<string, number> {
  return Object.fromEntries(
    samplesOf(parseExposition(text), name).map((s) => [s.labels[label], s.value]),
  );
}

/** Every label value of `keys` at 0, with `values` over them. */
function zerosAnd(keys: string[], values: Record<string, number>): Record<string, number> {
  return { ...Object.fromEntries(keys.map((k) => [k, 0])), ...values };
}

const jobs = (text: string) => byLabel(text, "matcher_pull_jobs", "status");
const attempts = (text: string) => byLabel(text, "matcher_pull_attempts_total", "outcome");
const lag = (text: string) =>
  samplesOf(parseExposition(text), "matcher_pull_oldest_due_lag_seconds")[0]?.value;
const refreshFailures = (text: string) =>
  byLabel(text, "matcher_metrics_refresh_failures_total", "reason");

Deno.test("after webhooks and pulls of known outcomes the webhook and pull metrics are exact", async () => {
  const clock = testClock();
  const w = await wirePluggy({}, {
    metricsToken: METRICS_TOKEN,
    now: clock.now,
    pulls: { wake: false, random: () => 1 }, // retries wait exactly 30 s
  });
  try {
    const before = await scrape(w);
    assert.deepEqual(jobs(before), zerosAnd(STATUSES, {}), "every status, zeros included");
    assert.deepEqual(attempts(before), zerosAnd(OUTCOMES, {}));
    assert.equal(lag(before), 0);

    // One accepted webhook, its duplicate, and a delivery to a token nobody minted.
    const update = w.fake.webhooks.itemUpdated({ itemId: w.accountRef });
    const first = await deliver(w, update);
    assert.equal(first.body.status, "accepted");
    assert.equal((await deliver(w, update)).body.status, "duplicate");
    const unknownUrl = w.webhookUrl.replace(/mwh_[\w-]+$/, `mwh_${"x".repeat(43)}`);
    assert.equal((await w.fake.sendWebhook(unknownUrl, update)).status, 404);
    assert.equal((await w.fake.sendWebhook(w.webhookUrl, { not: "pluggy" })).status, 400);

    const queued = await scrape(w);
    assert.deepEqual(jobs(queued), zerosAnd(STATUSES, { queued: 1 }));
    assert.equal(lag(queued), 0, "due right now: it has not waited yet");
    clock.advance(5_000);
    assert.equal(lag(await scrape(w)), 5, "the queued job has waited 5 s of the pull clock");

    await w.h.pool.drain();
    assert.equal((await w.pull(first.body.pullId)).status, "succeeded");

    // A manual pull whose first vendor call answers 500: retried in 30 s.
    w.fake.faults.add({ path: "/accounts", fault: { status: 500 } });
    const manual = await w.h.request(
      `/v1/discovery/aggregator-connections/${w.connectionId}/pulls`,
      { method: "POST", tenant: w.tenant },
    );
    const retried = (await manual.json()).id;
    await w.h.pool.drain();
    assert.equal((await w.pull(retried)).status, "retrying");

    const settled = await scrape(w);
    assert.deepEqual(
      byLabel(settled, "matcher_webhooks_received_total", "outcome"),
      { accepted: 1, duplicate: 1, unknown_token: 1, rejected: 1 },
    );
    assert.deepEqual(attempts(settled), zerosAnd(OUTCOMES, { succeeded: 1, retrying: 1 }));
    assert.deepEqual(jobs(settled), zerosAnd(STATUSES, { succeeded: 1, retrying: 1 }));
    assert.equal(lag(settled), 0, "the retry is not due yet");
    const parsed = parseExposition(settled);
    for (const outcome of ["succeeded", "retrying"]) {
      const count = samplesOf(parsed, "matcher_pull_duration_seconds_count", { outcome });
      assert.equal(count[0]?.value, 1, `one ${outcome} attempt timed`);
      const inf = samplesOf(parsed, "matcher_pull_duration_seconds_bucket", {
        outcome,
        le: "+Inf",
      });
      assert.equal(inf[0]?.value, 1);
    }
    assert.ok(
      samplesOf(parsed, "matcher_pull_duration_seconds_bucket", { le: "3600" }).length > 0,
      "buckets reach an hour",
    );
    assert.equal(parsed.types.get("matcher_pull_jobs"), "gauge");
    assert.equal(parsed.types.get("matcher_pull_attempts_total"), "counter");
    assert.equal(parsed.types.get("matcher_pull_duration_seconds"), "histogram");

    // Ten minutes on, the retry has been due for 9.5 of them, until a sweep runs it.
    clock.advance(10 * 60_000);
    assert.equal(lag(await scrape(w)), 570);
    await w.h.sweep();
    const done = await scrape(w);
    assert.equal(lag(done), 0);
    assert.deepEqual(jobs(done), zerosAnd(STATUSES, { succeeded: 2 }));
    assert.deepEqual(attempts(done), zerosAnd(OUTCOMES, { succeeded: 2, retrying: 1 }));
    assert.deepEqual(refreshFailures(done), { error: 0, timeout: 0 });

    const leaks = [
      w.token,
      unknownUrl.split("/").at(-1)!,
      w.tenant,
      w.connectionId,
      w.accountRef,
      first.body.pullId,
      retried,
      "fake-client-secret",
      METRICS_TOKEN,
    ];
    for (const leak of leaks) assert.ok(!done.includes(leak), `/metrics shows ${leak}`);
  } finally {
    await w.close();
  }
});

Deno.test("the lag counts pulls a worker could take, not one waiting behind its connection's running pull", async () => {
  const clock = testClock();
  const w = await wirePluggy({}, {
    metricsToken: METRICS_TOKEN,
    now: clock.now,
    pulls: { wake: false },
  });
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    // A worker elsewhere holds the first pull for a long first read of the history.
    await w.h.sql`
      update pull_jobs set status = 'running', lease_owner = 'elsewhere', attempts = 1,
        lease_expires_at = ${new Date(clock.now() + 3_600_000)}, next_attempt_at = null
      where id = ${body.pullId}`;
    const later = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    assert.notEqual(later.body.pullId, body.pullId, "a second pull is queued behind it");
    clock.advance(15 * 60_000);
    const text = await scrape(w);
    assert.deepEqual(jobs(text), zerosAnd(STATUSES, { running: 1, queued: 1 }));
    assert.equal(lag(text), 0);

    await w.h.sql`update pull_jobs set status = 'succeeded', lease_owner = null,
      lease_expires_at = null where id = ${body.pullId}`;
    assert.equal(lag(await scrape(w)), 900, "now free to run, it has waited since it was queued");
  } finally {
    await w.close();
  }
});

Deno.test("a scrape while the database fails answers 200 with the last pull gauges, and counts it", async () => {
  const w = await wirePluggy({}, { metricsToken: METRICS_TOKEN, pulls: { wake: false } });
  try {
    const { body } = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    assert.deepEqual(jobs(await scrape(w)), zerosAnd(STATUSES, { queued: 1 }));

    await w.h.sql`alter table pull_jobs rename to pull_jobs_away`;
    const broken = await scrape(w);
    assert.deepEqual(jobs(broken), zerosAnd(STATUSES, { queued: 1 }), "the last values stay");
    assert.deepEqual(refreshFailures(broken), { error: 1, timeout: 0 });
    const warning = w.h.logs.find((l) => l.includes("metrics refresh failed"));
    assert.ok(warning, "the failure is logged");
    assert.deepEqual(JSON.parse(warning).error, { name: "PostgresError", code: "42P01" });
    assert.doesNotMatch(warning, /does not exist|select/i, "no driver message, no query");

    await w.h.sql`alter table pull_jobs_away rename to pull_jobs`;
    await w.h.pool.drain();
    assert.equal((await w.pull(body.pullId)).status, "succeeded");
    assert.deepEqual(jobs(await scrape(w)), zerosAnd(STATUSES, { succeeded: 1 }), "fresh again");
  } finally {
    await w.close();
  }
});

Deno.test("a scrape does not wait for a blocked pull table longer than the refresh timeout", async () => {
  const w = await wirePluggy({}, { metricsToken: METRICS_TOKEN, pulls: { wake: false } });
  try {
    await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    assert.deepEqual(jobs(await scrape(w)), zerosAnd(STATUSES, { queued: 1 }));
    await w.h.sql.begin(async (tx) => {
      await tx`lock table pull_jobs in access exclusive mode`;
      const started = performance.now();
      const blocked = await scrape(w);
      const seconds = (performance.now() - started) / 1000;
      assert.ok(seconds >= 1.5 && seconds < 4, `answered after ${seconds} s`);
      assert.deepEqual(jobs(blocked), zerosAnd(STATUSES, { queued: 1 }));
      assert.deepEqual(refreshFailures(blocked), { error: 0, timeout: 1 });
    });
  } finally {
    await w.close();
  }
});
