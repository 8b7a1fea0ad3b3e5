// Every answer carries the hardening headers; the one-time token answer is never cached.
import assert from "node:assert/strict";
import { pluggyBody } from "../support/harness.ts";
import { wirePluggy } from "../support/pulls.ts";

const HARDENING: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "x-permitted-cross-domain-policies": "none",
};

Deno.test("every kind of answer carries the hardening headers, and only HTML pages a CSP", async (t) => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const answers: [string, Promise<Response>][] = [
      ["health 200", w.h.request("/health")],
      ["docs 200 (HTML)", w.h.request("/docs")],
      ["no token 401", w.h.request("/v1/discovery/aggregator-connections")],
      ["unknown route 404", w.h.request("/nowhere")],
      ["list 200", w.h.request("/v1/discovery/aggregator-connections", { tenant: w.tenant })],
      [
        "create 201",
        w.h.request("/v1/discovery/aggregator-connections", {
          method: "POST",
          tenant: w.tenant,
          json: pluggyBody({ configName: "headers-check" }),
        }),
      ],
      [
        "invalid 400",
        w.h.request("/v1/discovery/aggregator-connections", {
          method: "POST",
          tenant: w.tenant,
          json: {},
        }),
      ],
      [
        "webhook 202",
        w.fake.sendWebhook(w.webhookUrl, w.fake.webhooks.itemUpdated({ itemId: w.accountRef })),
      ],
    ];
    for (const [what, pending] of answers) {
      await t.step(what, async () => {
        const res = await pending;
        await res.body?.cancel();
        for (const [name, value] of Object.entries(HARDENING)) {
          assert.equal(res.headers.get(name), value, `${what}: ${name}`);
        }
        // The API's JSON needs no CSP; an HTML page (/docs, /console) sets its own strict one.
        const csp = res.headers.get("content-security-policy");
        if (what.includes("HTML")) assert.match(csp ?? "", /^default-src 'self'/, what);
        else assert.equal(csp, null, `${what}: no CSP`);
      });
    }
  } finally {
    await w.close();
  }
});

Deno.test("the minted token's answer says no-store", async () => {
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const minted = await w.h.request("/v1/discovery/webhooks/tokens", {
      method: "POST",
      tenant: w.tenant,
      json: { vendor: "pluggy", connection_config_name: "pluggy-main" },
    });
    assert.equal(minted.status, 201);
    assert.equal(minted.headers.get("cache-control"), "no-store");
    assert.match((await minted.json()).token, /^mwh_/);
  } finally {
    await w.close();
  }
});
