// The receiver's per-token limit over HTTP: the RateLimit fields on each delivery, 429 past the
// token's quota with nothing written, other tokens untouched, and whole again the next minute.
import assert from "node:assert/strict";
import { parseExposition, samplesOf } from "../support/prometheus.ts";
import { testClock, wirePluggy } from "../support/pulls.ts";
import type { Json } from "../support/vendor_calls.ts";

const MINUTE = 60_000;

Deno.test("each webhook token takes its quota of deliveries a minute, then 429", async (t) => {
  const clock = testClock(Math.ceil(Date.now() / MINUTE) * MINUTE + 20_000);
  const metricsToken = crypto.randomUUID();
  const w = await wirePluggy({}, {
    now: clock.now,
    metricsToken,
    rateLimits: { perWebhookToken: 3 },
    pulls: { wake: false },
  });
  const send = async (url: string, headers?: Record<string, string>) => {
    const res = await w.fake.sendWebhook(
      url,
      w.fake.webhooks.itemUpdated({ itemId: w.accountRef }),
      headers,
    );
    return {
      status: res.status,
      body: await res.json() as Json,
      policy: res.headers.get("RateLimit-Policy"),
      limit: res.headers.get("RateLimit"),
      retryAfter: res.headers.get("Retry-After"),
    };
  };
  const events = async () =>
    (await w.h.sql`select count(*)::int as n from webhook_events`)[0].n as number;
  try {
    const other = await w.addConnection("pluggy-other", w.accountRef);
    const minted = await w.h.request("/v1/discovery/webhooks/tokens", {
      method: "POST",
      tenant: w.tenant,
      json: { vendor: "pluggy", connection_config_name: "pluggy-main", withHeaderSecret: true },
    });
    const guarded = await minted.json();

    await t.step("three deliveries counting down, then 429 with nothing written", async () => {
      const answers = [
        await send(w.webhookUrl),
        await send(w.webhookUrl),
        await send(w.webhookUrl),
      ];
      assert.deepEqual(answers.map((a) => a.status), [202, 202, 202]);
      assert.ok(answers.every((a) => a.policy === '"webhook";q=3;w=60'));
      assert.deepEqual(answers.map((a) => a.limit), [
        '"webhook";r=2;t=40',
        '"webhook";r=1;t=40',
        '"webhook";r=0;t=40',
      ]);
      const stored = await events();
      const refused = await send(w.webhookUrl);
      assert.equal(refused.status, 429);
      assert.equal(refused.body.code, "MTCH-1429");
      assert.match(refused.body.message, /Too many deliveries to this webhook token/);
      assert.equal(refused.retryAfter, "40");
      assert.equal(refused.limit, '"webhook";r=0;t=40');
      assert.equal(await events(), stored, "a refused delivery is not recorded");
    });

    await t.step("another token, and an unknown one, are not limited by it", async () => {
      const answer = await send(other.webhookUrl);
      assert.equal(answer.status, 202);
      assert.equal(answer.limit, '"webhook";r=2;t=40');
      const unknown = await send(w.webhookUrl.replace(/mwh_.*$/, `mwh_${"B".repeat(43)}`));
      assert.equal(unknown.status, 404);
      assert.equal(unknown.policy, null, "no quota is announced for a token that is not one");
    });

    await t.step("deliveries without the header secret use none of its token's quota", async () => {
      for (let i = 0; i < 5; i++) assert.equal((await send(guarded.webhookUrl)).status, 404);
      const ok = await send(guarded.webhookUrl, { [guarded.header.name]: guarded.header.value });
      assert.equal(ok.status, 202);
      assert.equal(ok.limit, '"webhook";r=2;t=40');
    });

    await t.step("the refusals are counted as rate_limited", async () => {
      const res = await w.h.request("/metrics", {
        headers: { Authorization: `Bearer ${metricsToken}` },
      });
      const samples = samplesOf(
        parseExposition(await res.text()),
        "matcher_webhooks_received_total",
        { vendor: "pluggy", outcome: "rate_limited" },
      );
      assert.deepEqual(samples.map((s) => s.value), [1]);
      assert.ok(
        w.h.logs.some((l) => l.includes('"outcome":"rate_limited"') && l.includes('"status":429')),
      );
    });

    await t.step("the next minute the token's quota is whole again", async () => {
      clock.advance(40_000);
      const answer = await send(w.webhookUrl);
      assert.equal(answer.status, 202);
      assert.equal(answer.limit, '"webhook";r=2;t=60');
    });
  } finally {
    await w.close();
  }
});
