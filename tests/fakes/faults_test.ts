// What both fakes share: fault switches, determinism, scale and webhook delivery.
import assert from "node:assert/strict";
import { startFakeBelvo } from "./belvo.ts";
import { startFakePluggy } from "./pluggy.ts";
import type { FakeServer } from "./server.ts";
import {
  BELVO_AUTH,
  belvoGet,
  getJson,
  pluggyKey,
  withBelvo,
  withPluggy,
} from "../support/vendor_calls.ts";

async function eachFake(
  fn: (fake: FakeServer, path: string, headers: Record<string, string>) => Promise<void>,
) {
  await withPluggy({}, async (pluggy) => {
    const headers = { "x-api-key": await pluggyKey(pluggy) };
    await fn(pluggy, `/accounts?itemId=${pluggy.items[0].id}`, headers);
  });
  await withBelvo({}, async (fake) => {
    await fn(fake, `/api/transactions/?link=${fake.links[0].id}`, BELVO_AUTH);
  });
}

Deno.test("status faults answer with the vendor's own error body unless one is given", async () => {
  await withPluggy({}, async (fake) => {
    fake.faults.add({ path: "/auth", fault: { status: 429 } });
    const res = await fetch(`${fake.url}/auth`, { method: "POST", body: "{}" });
    assert.equal(res.status, 429);
    assert.deepEqual(await res.json(), {
      message: "Too many requests, please try again later.",
      code: 429,
    });
    assert.equal(res.headers.get("retry-after"), "60");
    assert.ok(res.headers.get("ratelimit-limit") && res.headers.get("ratelimit-reset"));
    fake.faults.add({
      fault: { status: 503, body: { custom: true }, headers: { "x-extra": "1" } },
    });
    const custom = await getJson(`${fake.url}/anything`);
    assert.deepEqual([custom.status, custom.body, custom.headers.get("x-extra")], [503, {
      custom: true,
    }, "1"]);
  });
  await withBelvo({}, async (fake) => {
    fake.faults.add({ fault: { status: 429 }, times: 2 });
    for (let i = 0; i < 2; i++) {
      const res = await belvoGet(fake, "/api/");
      assert.equal(res.status, 429);
      assert.equal(res.body[0].code, "too_many_requests");
    }
    fake.faults.add({ method: "GET", path: /^\/api\/links\//, fault: { status: 500 } });
    const server = await belvoGet(fake, "/api/links/");
    assert.equal(server.status, 500);
    assert.equal(server.body[0].code, "unexpected_error");
    assert.equal((await belvoGet(fake, "/api/")).status, 200, "rules are used up");
  });
});

Deno.test("fault rules match on method and path, count down, and clear", async () => {
  await eachFake(async (fake, path, headers) => {
    fake.faults.add({ method: "POST", fault: { status: 500 } });
    fake.faults.add({ path: "/elsewhere", fault: { status: 500 } });
    assert.equal(
      (await getJson(`${fake.url}${path}`, headers)).status,
      200,
      "neither rule matches a GET here",
    );
    fake.faults.clear();
    fake.faults.add({
      path: new RegExp("^" + new URL(fake.url + path).pathname + "$"),
      times: Infinity,
      fault: { status: 502 },
    });
    for (let i = 0; i < 3; i++) {
      assert.equal((await getJson(`${fake.url}${path}`, headers)).status, 502);
    }
    fake.faults.clear();
    assert.equal((await getJson(`${fake.url}${path}`, headers)).status, 200);
    assert.ok(fake.requests.length >= 5, "faulted requests are recorded too");
    fake.resetRequests();
    assert.equal(fake.requests.length, 0);
  });
});

Deno.test("body faults break the answer in each documented way", async (t) => {
  await eachFake(async (fake, path, headers) => {
    const url = `${fake.url}${path}`;
    const normal = await (await fetch(url, { headers })).text();
    const once = async (fault: Parameters<FakeServer["faults"]["add"]>[0]["fault"]) => {
      fake.faults.add({ fault });
      return await fetch(url, { headers, redirect: "manual" });
    };
    await t.step(`${fake.host}: truncate cuts the JSON in half`, async () => {
      const res = await once({ truncate: true });
      const text = await res.text();
      assert.equal(res.status, 200);
      assert.equal(text, normal.slice(0, Math.floor(normal.length / 2)));
      assert.throws(() => JSON.parse(text));
    });
    await t.step(`${fake.host}: malformed is HTML`, async () => {
      const res = await once({ malformed: true });
      assert.equal(res.headers.get("content-type"), "text/html");
      assert.match(await res.text(), /^<html>/);
    });
    await t.step(`${fake.host}: wrongShape is valid JSON of the wrong shape`, async () => {
      assert.deepEqual(await (await once({ wrongShape: true })).json(), { results: "nope" });
    });
    await t.step(`${fake.host}: oversizeBytes is valid JSON at least that big`, async () => {
      const bytes = new Uint8Array(await (await once({ oversizeBytes: 3_000_000 })).arrayBuffer());
      assert.ok(bytes.length >= 3_000_000);
      const text = new TextDecoder().decode(bytes);
      assert.deepEqual(Object.keys(JSON.parse(text)).at(-1), "padding");
    });
    await t.step(`${fake.host}: redirect is a 302 to the given URL`, async () => {
      const res = await once({ redirect: "http://127.0.0.1:9/elsewhere" });
      await res.body?.cancel();
      assert.equal(res.status, 302);
      assert.equal(res.headers.get("location"), "http://127.0.0.1:9/elsewhere");
    });
    await t.step(
      `${fake.host}: next replaces the page link, told the request and the link`,
      async () => {
        let told: [string, string | null] | undefined;
        const res = await once({
          next: (request, next) => {
            told = [request.href, next];
            return `${fake.url}/elsewhere`;
          },
        });
        const body = await res.json();
        assert.equal(body.next, `${fake.url}/elsewhere`);
        assert.deepEqual({ ...body, next: null }, { ...JSON.parse(normal), next: null });
        assert.equal(told?.[0], url);
        assert.equal(told?.[1], JSON.parse(normal).next ?? null);
      },
    );
    await t.step(`${fake.host}: reset starts a 200 and then drops the body`, async () => {
      const res = await once({ reset: true });
      assert.equal(res.status, 200);
      await assert.rejects(res.text());
    });
  });
});

Deno.test("delay faults hold one answer without blocking others, and give up when the client does", async () => {
  await eachFake(async (fake, path, headers) => {
    const url = `${fake.url}${path}`;
    fake.faults.add({ fault: { delayMs: 500 } });
    const started = Date.now();
    const slow = fetch(url, { headers }).then(async (r) => ({
      status: r.status,
      at: Date.now(),
      body: await r.text(),
    }));
    await new Promise((r) => setTimeout(r, 20));
    const quick = await fetch(url, { headers });
    await quick.body?.cancel();
    const quickAt = Date.now();
    const done = await slow;
    assert.equal(done.status, 200);
    assert.ok(done.at - started >= 490, "the delayed answer waited");
    assert.ok(quickAt < done.at, "another request was answered meanwhile");

    fake.faults.add({ fault: { delayMs: 60_000 } });
    const aborter = new AbortController();
    const hung = fetch(url, { headers, signal: aborter.signal });
    await new Promise((r) => setTimeout(r, 50));
    aborter.abort();
    await assert.rejects(hung);
  });
});

Deno.test("the same seed gives identical data and another seed different data", async () => {
  const pluggy = await Promise.all([
    startFakePluggy({ seed: 7 }),
    startFakePluggy({ seed: 7 }),
    startFakePluggy({ seed: 8 }),
  ]);
  const belvos = await Promise.all([
    startFakeBelvo({ seed: 7 }),
    startFakeBelvo({ seed: 7 }),
    startFakeBelvo({ seed: 8 }),
  ]);
  try {
    const pluggyData = pluggy.map((f) =>
      f.items.map((i) => ({
        i,
        accounts: f.accounts(i.id),
        txs: i.accounts.map((a) => f.transactions(a.id)),
      }))
    );
    assert.deepEqual(pluggyData[0], pluggyData[1]);
    assert.notEqual(pluggy[0].items[0].id, pluggy[2].items[0].id);
    assert.notDeepEqual(
      pluggyData[0][0].txs[0].map((tx) => tx.amount),
      pluggyData[2][0].txs[0].map((tx) => tx.amount),
    );
    const belvoData = belvos.map((f) =>
      f.links.map((l) => ({ l, accounts: f.accounts(l.id), txs: f.transactions(l.id) }))
    );
    assert.deepEqual(belvoData[0], belvoData[1]);
    assert.notDeepEqual(belvoData[0], belvoData[2]);
    assert.notEqual(
      pluggy[0].items[0].id,
      belvos[0].links[0].id,
      "the vendors' ids differ for one seed",
    );
  } finally {
    await Promise.all([...pluggy, ...belvos].map((f) => f.close()));
  }
});

Deno.test("100,000 transactions generate and list quickly", async () => {
  const started = performance.now();
  await withPluggy({ items: [{ accounts: [{ transactions: 100_000 }] }] }, async (fake) => {
    const accountId = fake.items[0].accounts[0].id;
    const key = { "x-api-key": await pluggyKey(fake) };
    const first = await getJson(`${fake.url}/v2/transactions?accountId=${accountId}`, key);
    assert.equal(first.body.results.length, 500);
    const second = await getJson(first.body.next, key);
    assert.equal(second.body.results.length, 500);
    assert.notEqual(second.body.results[0].id, first.body.results[499].id);
    assert.equal(fake.transactions(accountId).length, 100_000);
  });
  await withBelvo({ links: [{ accounts: [{ transactions: 100_000 }] }] }, async (fake) => {
    const res = await belvoGet(
      fake,
      `/api/transactions/?link=${fake.links[0].id}&page_size=1000&page=100`,
    );
    assert.equal(res.body.count, 100_000);
    assert.equal(res.body.next, null);
  });
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 15, `took ${seconds.toFixed(1)} s`);
});

Deno.test("sendWebhook POSTs the payload as JSON and hands back the receiver's answer", async () => {
  const received: Array<
    { method: string; type: string | null; auth: string | null; body: unknown }
  > = [];
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received.push({
      method: req.method,
      type: req.headers.get("content-type"),
      auth: req.headers.get("authorization"),
      body: await req.json(),
    });
    return new Response(received.length === 1 ? "ok" : "nope", {
      status: received.length === 1 ? 202 : 500,
    });
  });
  const target = `http://127.0.0.1:${receiver.addr.port}/hooks`;
  try {
    await withPluggy({}, async (fake) => {
      const payload = fake.webhooks.itemUpdated({ itemId: fake.items[0].id });
      const res = await fake.sendWebhook(target, payload, { authorization: "Bearer hook-secret" });
      assert.equal(res.status, 202);
      assert.equal(await res.text(), "ok");
      assert.deepEqual(received[0], {
        method: "POST",
        type: "application/json",
        auth: "Bearer hook-secret",
        body: payload,
      });
    });
    await withBelvo({}, async (fake) => {
      const payload = fake.webhooks.historicalUpdate({ linkId: fake.links[0].id });
      const res = await fake.sendWebhook(target, payload);
      assert.equal(res.status, 500, "a failing receiver's status comes back as is");
      assert.deepEqual(received[1].body, payload);
    });
  } finally {
    await receiver.shutdown();
  }
});
