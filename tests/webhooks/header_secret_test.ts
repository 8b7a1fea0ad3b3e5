// A webhook token's second factor over HTTP: shown once at the mint, only its hash in KV, and a
// delivery without its exact header value refused with the unknown token's 404, counted apart.
import assert from "node:assert/strict";
import { FakeBelvo } from "../fakes/belvo.ts";
import { FakePluggy } from "../fakes/pluggy.ts";
import { encodings, hashForms, kvText } from "../support/leaks.ts";
import { parseExposition, samplesOf } from "../support/prometheus.ts";
import { wireBelvo, type Wired, wirePluggy } from "../support/pulls.ts";
import type { Json } from "../support/vendor_calls.ts";

const TOKENS = "/v1/discovery/webhooks/tokens";

async function mint(w: Wired<FakePluggy | FakeBelvo>, vendor: string, withHeaderSecret?: boolean) {
  const res = await w.h.request(TOKENS, {
    method: "POST",
    tenant: w.tenant,
    json: { vendor, connection_config_name: `${vendor}-main`, withHeaderSecret },
  });
  assert.equal(res.status, 201);
  return await res.json() as Json;
}

async function events(w: Wired<FakePluggy | FakeBelvo>): Promise<number> {
  const [row] = await w.h.sql`select count(*)::int as n from webhook_events`;
  return row.n;
}

async function outcomes(w: Wired<FakePluggy | FakeBelvo>, metricsToken: string) {
  const res = await w.h.request("/metrics", {
    headers: { Authorization: `Bearer ${metricsToken}` },
  });
  const samples = samplesOf(parseExposition(await res.text()), "matcher_webhooks_received_total");
  return Object.fromEntries(
    samples.map((s) => [`${s.labels.vendor} ${s.labels.outcome}`, s.value]),
  );
}

Deno.test("a Pluggy token minted with a header secret takes only deliveries that carry it", async (t) => {
  const metricsToken = crypto.randomUUID();
  const w = await wirePluggy({}, { metricsToken, pulls: { wake: false } });
  const payload = () => w.fake.webhooks.itemUpdated({ itemId: w.accountRef });
  const send = async (url: string, headers?: Record<string, string>) => {
    const res = await w.fake.sendWebhook(url, payload(), headers);
    return { status: res.status, body: await res.json() as Json };
  };
  try {
    const minted = await mint(w, "pluggy", true);
    const secret = minted.header.value as string;

    await t.step("the mint names the header and its value, once", async () => {
      assert.deepEqual(Object.keys(minted.header), ["name", "value"]);
      assert.equal(minted.header.name, "X-Matcher-Webhook-Secret");
      assert.match(secret, /^mwhs_[A-Za-z0-9_-]{43}$/);
      assert.equal((await mint(w, "pluggy", false)).header, undefined);
      assert.equal((await mint(w, "pluggy")).header, undefined);
      const list = await w.get(`${TOKENS}?limit=200`);
      const listed = list.items.find((i: Json) => i.id === minted.id);
      assert.equal(listed.withHeaderSecret, true);
      assert.equal(list.items.filter((i: Json) => !i.withHeaderSecret).length, 3);
      assert.ok(!JSON.stringify(list).includes(secret));
    });

    await t.step("KV holds the secret's SHA-256, never the secret", async () => {
      const store = await kvText(w.h.kv);
      assert.ok(store.includes((await hashForms(secret))[0]));
      for (const form of encodings(secret)) assert.ok(!store.includes(form), form);
    });

    const unknown = await send(w.webhookUrl.replace(/mwh_.*$/, `mwh_${"A".repeat(43)}`));
    await t.step(
      "without the header, or with another value, the answer is the unknown 404",
      async () => {
        assert.equal(unknown.status, 404);
        const before = await events(w);
        const refusals = [
          await send(minted.webhookUrl),
          await send(minted.webhookUrl, { "X-Matcher-Webhook-Secret": `${secret}x` }),
          await send(minted.webhookUrl, { "X-Matcher-Webhook-Secret": secret.slice(0, -1) }),
          await send(minted.webhookUrl, { "X-Matcher-Webhook-Secret": "" }),
          await send(minted.webhookUrl, { Authorization: `Bearer ${secret}` }), // the wrong header
        ];
        for (const refused of refusals) assert.deepEqual(refused, unknown);
        assert.equal(await events(w), before, "nothing is written");
      },
    );

    await t.step("with it, the delivery is recorded", async () => {
      const ok = await send(minted.webhookUrl, { "X-Matcher-Webhook-Secret": secret });
      assert.equal(ok.status, 202);
      assert.equal(ok.body.status, "accepted");
    });

    await t.step("a token minted without one works as before, whatever headers come", async () => {
      assert.equal((await send(w.webhookUrl)).status, 202);
      assert.equal((await send(w.webhookUrl, { "X-Matcher-Webhook-Secret": "x" })).status, 202);
    });

    await t.step("refusals are counted as wrong_header_secret and logged by token id", async () => {
      const counted = await outcomes(w, metricsToken);
      assert.equal(counted["pluggy wrong_header_secret"], 5);
      assert.equal(counted["pluggy unknown_token"], 1);
      assert.equal(counted["pluggy accepted"], 3);
      const refused = w.h.logs.filter((l) => l.includes('"outcome":"wrong_header_secret"'));
      assert.equal(refused.length, 5);
      assert.ok(refused.every((l) => l.includes(minted.id) && l.includes('"status":404')));
      for (const form of encodings(secret)) {
        assert.ok(!w.h.logs.some((l) => l.includes(form)), "no log line holds the secret");
      }
    });
  } finally {
    await w.close();
  }
});

Deno.test("a Belvo token's header secret is its Authorization value, with or without Bearer", async () => {
  const w = await wireBelvo({}, { pulls: { wake: false } });
  const payload = () =>
    w.fake.webhooks.newTransactionsAvailable({ linkId: w.accountRef, count: 1 });
  const send = async (url: string, headers?: Record<string, string>) =>
    (await w.fake.sendWebhook(url, payload(), headers)).status;
  try {
    const minted = await mint(w, "belvo", true);
    assert.equal(minted.header.name, "Authorization");
    assert.match(minted.header.value, /^Bearer mwhs_[A-Za-z0-9_-]{43}$/);
    const secret = minted.header.value.slice("Bearer ".length);
    assert.equal(await send(minted.webhookUrl, { Authorization: minted.header.value }), 202);
    assert.equal(await send(minted.webhookUrl, { Authorization: secret }), 202);
    assert.equal(await send(minted.webhookUrl), 404);
    assert.equal(await send(minted.webhookUrl, { Authorization: `Basic ${btoa(secret)}` }), 404);
    assert.equal(await send(minted.webhookUrl, { "X-Matcher-Webhook-Secret": secret }), 404);
    // Another token's secret opens nothing but that token.
    const other = await mint(w, "belvo", true);
    assert.equal(await send(minted.webhookUrl, { Authorization: other.header.value }), 404);
    assert.equal(await send(other.webhookUrl, { Authorization: other.header.value }), 202);
  } finally {
    await w.close();
  }
});
