// The webhook receiver: the one 404, size and shape checks, de-duplication and coalescing.
import assert from "node:assert/strict";
import { deliver, testClock, wireBelvo, wirePluggy } from "../support/pulls.ts";

/** When the connection's queued pull comes due, in ms. */
async function queuedDue(sql: import("../../src/db/pool.ts").Sql) {
  const [job] = await sql`select next_attempt_at from pull_jobs where status = 'queued'`;
  return (job.next_attempt_at as Date).getTime();
}

/** A tenant's manual pull request for the wired connection; answers the pull's id. */
async function requestPull(w: Awaited<ReturnType<typeof wirePluggy>>): Promise<string> {
  const asked = await w.h.request(
    `/v1/discovery/aggregator-connections/${w.connectionId}/pulls`,
    { method: "POST", tenant: w.tenant },
  );
  return (await asked.json()).id;
}

async function counts(sql: import("../../src/db/pool.ts").Sql) {
  const [row] = await sql`
    select (select count(*)::int from webhook_events) as events,
           (select count(*)::int from pull_jobs) as jobs`;
  return row;
}

Deno.test("deliveries that name no live token of that vendor get one 404 and write nothing", async (t) => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  const payload = () => w.fake.webhooks.itemUpdated({ itemId: w.accountRef });
  const base = w.webhookUrl.slice(0, w.webhookUrl.lastIndexOf("/pluggy/"));
  try {
    const expect404 = async (url: string) => {
      const res = await w.fake.sendWebhook(url, payload());
      assert.equal(res.status, 404, url);
      const body = await res.json();
      assert.deepEqual(Object.keys(body).sort(), ["code", "message", "title"]);
      return body;
    };
    await t.step("unknown, malformed, other-vendor and unknown-vendor tokens", async () => {
      const first = await expect404(`${base}/pluggy/mwh_${"A".repeat(43)}`);
      assert.deepEqual(await expect404(`${base}/pluggy/not-a-token`), first);
      assert.deepEqual(await expect404(`${base}/belvo/${w.token}`), first);
      assert.deepEqual(await expect404(`${base}/stripe/${w.token}`), first);
      assert.deepEqual(await counts(w.h.sql), { events: 0, jobs: 0 });
    });

    await t.step("a revoked token", async () => {
      const minted = await w.h.request("/v1/discovery/webhooks/tokens", {
        method: "POST",
        tenant: w.tenant,
        json: { vendor: "pluggy", connection_config_name: "pluggy-main" },
      });
      const { id, webhookUrl } = await minted.json();
      assert.equal((await deliver(w, payload(), webhookUrl)).status, 202);
      const revoked = await w.h.request(`/v1/discovery/webhooks/tokens/${id}`, {
        method: "DELETE",
        tenant: w.tenant,
      });
      assert.equal(revoked.status, 204);
      const before = await counts(w.h.sql);
      await expect404(webhookUrl);
      assert.deepEqual(await counts(w.h.sql), before);
    });

    await t.step("the token of a deleted connection", async () => {
      const res = await w.h.request(`/v1/discovery/aggregator-connections/${w.connectionId}`, {
        method: "DELETE",
        tenant: w.tenant,
      });
      assert.equal(res.status, 204);
      const before = await counts(w.h.sql);
      await expect404(w.webhookUrl);
      assert.deepEqual(await counts(w.h.sql), before);
    });

    await t.step("no log line carries a token", () => {
      const logs = w.h.logs.join("\n");
      assert.ok(!logs.includes(w.token));
      assert.ok(!logs.includes("mwh_"));
      assert.ok(logs.includes("/v1/discovery/webhooks/:vendor/:token"));
    });
  } finally {
    await w.close();
  }
});

Deno.test("bodies too large, not JSON objects or not the vendor's payload are refused with nothing written", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const post = (body: BodyInit, type = "application/json") =>
      fetch(w.webhookUrl, { method: "POST", headers: { "content-type": type }, body });
    const big = JSON.stringify({
      event: "item/updated",
      eventId: "e",
      pad: "x".repeat(256 * 1024),
    });
    const cases: [BodyInit, number, string][] = [
      [big, 413, "MTCH-1004"],
      ["{not json", 400, "MTCH-1003"],
      ["[1, 2]", 400, "MTCH-1020"],
      ['"text"', 400, "MTCH-1020"],
      [JSON.stringify({ webhook_id: "w", webhook_type: "TRANSACTIONS" }), 400, "MTCH-1020"],
      [
        JSON.stringify({ event: "transactions/created", eventId: "e", itemId: w.accountRef }),
        400,
        "MTCH-1020",
      ],
    ];
    for (const [body, status, code] of cases) {
      const res = await post(body);
      assert.equal(res.status, status, String(body).slice(0, 80));
      assert.equal((await res.json()).code, code);
    }
    // A streamed body without Content-Length is cut off at the cap too.
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    assert.equal((await post(stream)).status, 413);
    assert.deepEqual(await counts(w.h.sql), { events: 0, jobs: 0 });
    // The vendor may send another content type; the body is what counts.
    const ok = await post(
      JSON.stringify(w.fake.webhooks.itemUpdated({ itemId: w.accountRef })),
      "text/plain",
    );
    assert.equal(ok.status, 202);
  } finally {
    await w.close();
  }
});

Deno.test("the same webhook 50 times at once is one event and one pull", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const payload = w.fake.webhooks.itemUpdated({ itemId: w.accountRef });
    const answers = await Promise.all(Array.from({ length: 50 }, () => deliver(w, payload)));
    assert.ok(answers.every((a) => a.status === 202));
    const accepted = answers.filter((a) => a.body.status === "accepted");
    assert.equal(accepted.length, 1);
    assert.ok(answers.every((a) => a.body.pullId === accepted[0].body.pullId));
    assert.equal(answers.filter((a) => a.body.status === "duplicate").length, 49);
    assert.deepEqual(await counts(w.h.sql), { events: 1, jobs: 1 });
  } finally {
    await w.close();
  }
});

Deno.test("100 item/updated webhooks in a burst leave at most one running and one queued pull", async () => {
  const w = await wirePluggy({ pageSize: 5 });
  try {
    // The first pull's vendor calls are slowed, so the burst lands while it runs.
    w.fake.faults.add({ path: "/v2/transactions", times: 3, fault: { delayMs: 1_000 } });
    const first = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    const burst = await Promise.all(
      Array.from(
        { length: 100 },
        () => deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef })),
      ),
    );
    assert.ok(burst.every((a) => a.status === 202 && a.body.status === "accepted"));
    const pulls = new Set(burst.map((a) => a.body.pullId));
    assert.equal(pulls.size, 1, "the burst merged into one queued pull");
    assert.ok(!pulls.has(first.body.pullId));
    const jobs = await w.h.sql`select status, count(*)::int from pull_jobs group by status`;
    assert.ok(jobs.every((j) => j.count === 1), JSON.stringify(jobs));
    await w.h.pool.drain();
    const statuses = await w.h.sql`select status from pull_jobs`;
    assert.deepEqual(statuses.map((s) => s.status), ["succeeded", "succeeded"]);
    const [events] = await w.h.sql`select count(*)::int from webhook_events`;
    assert.equal(events.count, 101);
  } finally {
    await w.close();
  }
});

Deno.test("Belvo deliveries are de-duplicated by webhook_id", async () => {
  const w = await wireBelvo({}, { pulls: { wake: false } });
  try {
    const payload = w.fake.webhooks.historicalUpdate({ linkId: w.accountRef });
    const first = await deliver(w, payload);
    const again = await deliver(w, payload);
    assert.equal(first.body.status, "accepted");
    assert.deepEqual(again.body, { status: "duplicate", pullId: first.body.pullId });
  } finally {
    await w.close();
  }
});

Deno.test("a burst over many connections shares commits, yet each delivery gets its own receipt", async () => {
  const connections = 6;
  const w = await wirePluggy({
    items: Array.from({ length: connections }, () => ({
      accounts: [{ transactions: 3 }, { type: "CREDIT", transactions: 3 }],
    })),
  }, { pulls: { wake: false } });
  try {
    // The wired connection is the first item's; one more connection and token per other item.
    const urls = [w.webhookUrl];
    for (const [i, item] of w.fake.items.entries()) {
      if (i > 0) urls.push((await w.addConnection(`pluggy-${i}`, item.id)).webhookUrl);
    }
    const from = (i: number) => new Date(Date.UTC(2026, 0, 1 + i)).toISOString();
    type Send = { url: string; payload: object; expect: number };
    const sends: Send[] = w.fake.items.flatMap((item, i) => {
      const [bank, credit] = item.accounts;
      const created = (accountId: string, day: number, eventId?: string) =>
        w.fake.webhooks.transactionsCreated({
          itemId: item.id,
          accountId,
          transactionsCreatedAtFrom: from(day),
          eventId,
        });
      const repeated = created(bank.id, 5, `repeat-${i}`);
      return [
        { url: urls[i], payload: created(bank.id, 3), expect: 202 },
        { url: urls[i], payload: created(bank.id, 2), expect: 202 },
        { url: urls[i], payload: created(credit.id, 7), expect: 202 },
        { url: urls[i], payload: repeated, expect: 202 },
        { url: urls[i], payload: repeated, expect: 202 },
        { url: urls[i], payload: repeated, expect: 202 },
        // Not a Pluggy event: refused alone, without failing its batch.
        {
          url: urls[i],
          payload: { event: "transactions/created", eventId: `bad-${i}` },
          expect: 400,
        },
        // Another item's event: recorded and ignored.
        {
          url: urls[i],
          payload: w.fake.webhooks.itemUpdated({ itemId: "not-this-item" }),
          expect: 202,
        },
      ];
    });
    const answers = await Promise.all(sends.map(async (s) => {
      const res = await w.fake.sendWebhook(s.url, s.payload);
      return { status: res.status, body: await res.json(), send: s };
    }));
    for (const a of answers) assert.equal(a.status, a.send.expect, JSON.stringify(a.body));

    const jobs = await w.h.sql`
      select j.id, j.work, c.account_ref from pull_jobs j join connections c on c.id = j.connection_id
      where j.status = 'queued'`;
    assert.equal(jobs.length, connections, "one queued pull per connection");
    for (const [i, item] of w.fake.items.entries()) {
      const job = jobs.find((j) => j.account_ref === item.id)!;
      const [bank, credit] = item.accounts;
      assert.deepEqual(job.work, { createdFrom: { [bank.id]: from(2), [credit.id]: from(7) } });
      const mine = answers.filter((a) => a.send.url === urls[i] && a.status === 202);
      const byStatus = (s: string) => mine.filter((a) => a.body.status === s);
      assert.equal(byStatus("accepted").length, 4);
      assert.equal(byStatus("duplicate").length, 2);
      assert.equal(byStatus("ignored").length, 1);
      for (const a of [...byStatus("accepted"), ...byStatus("duplicate")]) {
        assert.equal(a.body.pullId, job.id);
      }
    }
    const [events] = await w.h.sql`
      select count(*)::int as n, count(distinct (connection_id, event_key))::int as distinct_n,
             count(*) filter (where outcome = 'accepted' and pull_id is null)::int as unlinked
      from webhook_events`;
    assert.deepEqual(events, { n: connections * 5, distinct_n: connections * 5, unlinked: 0 });
  } finally {
    await w.close();
  }
});

Deno.test("a webhook's pull waits for the rest of the vendor's sync; a manual request does not", async () => {
  const clock = testClock();
  const w = await wirePluggy({}, { now: clock.now, pulls: { wake: false, webhookDelayMs: 2_000 } });
  try {
    const queuedAt = clock.now();
    const first = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    assert.equal(await queuedDue(w.h.sql), queuedAt + 2_000);
    await w.h.pool.drain();
    assert.equal((await w.pull(first.body.pullId)).status, "queued", "not due yet");

    // Another event of the same sync, a second later, merges without pushing the pull back.
    clock.advance(1_000);
    const account = w.fake.items[0].accounts[0].id;
    const second = await deliver(
      w,
      w.fake.webhooks.transactionsCreated({
        itemId: w.accountRef,
        accountId: account,
        transactionsCreatedAtFrom: new Date(0),
      }),
    );
    assert.equal(second.body.pullId, first.body.pullId);
    assert.equal(await queuedDue(w.h.sql), queuedAt + 2_000);

    // A tenant asking for a pull wants it now: the queued one comes due at once.
    assert.equal(await requestPull(w), first.body.pullId);
    assert.equal(await queuedDue(w.h.sql), clock.now());
    await w.h.pool.drain();
    const done = await w.pull(first.body.pullId);
    assert.equal(done.status, "succeeded");
    assert.equal(done.trigger, "webhook");
  } finally {
    await w.close();
  }
});

Deno.test("a connection's webhook pulls start at least the interval apart; a manual request need not wait", async () => {
  const clock = testClock();
  const w = await wirePluggy({}, {
    now: clock.now,
    pulls: { wake: false, webhookDelayMs: 2_000, webhookMinIntervalMs: 10_000 },
  });
  try {
    // No pull has run yet: the delay alone.
    const start = clock.now();
    const first = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    assert.equal(await queuedDue(w.h.sql), start + 2_000);
    clock.advance(2_000);
    await w.h.pool.drain();
    assert.equal((await w.pull(first.body.pullId)).status, "succeeded");

    // A second later another sync: its pull comes due 10 s after the last one started, not 2 s
    // after this event, and an event merging into it meanwhile does not bring it forward.
    clock.advance(1_000);
    const second = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    assert.notEqual(second.body.pullId, first.body.pullId);
    assert.equal(await queuedDue(w.h.sql), start + 12_000);
    clock.advance(5_000);
    const third = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    assert.equal(third.body.pullId, second.body.pullId);
    assert.equal(await queuedDue(w.h.sql), start + 12_000);
    await w.h.pool.drain();
    assert.equal((await w.pull(second.body.pullId)).status, "queued", "not due yet");
    clock.advance(4_000);
    await w.h.pool.drain();
    assert.equal((await w.pull(second.body.pullId)).status, "succeeded");

    // The interval holds webhooks only: a tenant asking for a pull gets it at once.
    clock.advance(1_000);
    const fourth = await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
    assert.equal(await queuedDue(w.h.sql), start + 22_000);
    assert.equal(await requestPull(w), fourth.body.pullId);
    assert.equal(await queuedDue(w.h.sql), clock.now());
  } finally {
    await w.close();
  }
});
