// The webhook second factor on the real service process: Pluggy's fake registers the minted header
// through pluggy-sdk's createWebhook and delivers with it, Belvo's sends it as Authorization, and
// a delivery without it gets the unknown token's 404; the secret is in no log line and not in KV.
import assert from "node:assert/strict";
import { startFakeBelvo } from "../fakes/belvo.ts";
import { startFakePluggy } from "../fakes/pluggy.ts";
import { createTestDatabase } from "../support/database.ts";
import { encodings, hashForms, kvText } from "../support/leaks.ts";
import { parseExposition, samplesOf } from "../support/prometheus.ts";
import { createPluggyConnection, serviceSetup, tenantApi, waitFor } from "../support/service.ts";
import { pluggyClient } from "../support/vendor_calls.ts";

Deno.test({
  name: "a webhook token's header secret, registered through pluggy-sdk, on the real process",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const db = await createTestDatabase();
    const pluggy = await startFakePluggy();
    const belvo = await startFakeBelvo();
    const metricsToken = crypto.randomUUID();
    const setup = await serviceSetup(db.url, [pluggy.host, belvo.host], {
      MATCHER_METRICS_TOKEN: metricsToken,
      MATCHER_PULL_WEBHOOK_DELAY_MS: "0",
    });
    const service = await setup.start();
    try {
      const api = await tenantApi(() => service.baseUrl, setup.secret);
      const itemId = pluggy.items[0].id;
      await createPluggyConnection(api, pluggy.url, itemId);
      await api.post("/v1/discovery/aggregator-connections", {
        vendor: "belvo",
        configName: "belvo-main",
        baseUrl: belvo.url,
        accountRef: belvo.links[0].id,
        clientId: "fake-secret-id",
        secret: "fake-secret-password",
      });
      const mint = (vendor: string, withHeaderSecret: boolean) =>
        api.post("/v1/discovery/webhooks/tokens", {
          vendor,
          connection_config_name: `${vendor}-main`,
          withHeaderSecret,
        });
      const pluggyToken = await mint("pluggy", true);
      const belvoToken = await mint("belvo", true);
      const plainToken = await mint("pluggy", false);
      const header = pluggyToken.header as { name: string; value: string };
      const belvoHeader = belvoToken.header as { name: string; value: string };
      assert.equal(header.name, "X-Matcher-Webhook-Secret");
      assert.equal(belvoHeader.name, "Authorization");
      assert.equal(plainToken.header, undefined);
      // PORT=0 leaves the public URL's port wrong: the receiver's path is what is registered.
      const at = (minted: Record<string, unknown>) =>
        `${service.baseUrl}${new URL(minted.webhookUrl as string).pathname}`;

      // The tenant registers the URL and the header with Pluggy through the official SDK.
      const sdk = pluggyClient(pluggy);
      await sdk.createWebhook("all", at(pluggyToken), { [header.name]: header.value });
      await sdk.createWebhook("all", at(plainToken));
      const delivered = await pluggy.notify(pluggy.webhooks.itemUpdated({ itemId }));
      assert.deepEqual(delivered.map((d) => d.status), [202, 202]);

      // Without the header, or with another value: the unknown token's answer.
      const payload = () => pluggy.webhooks.itemUpdated({ itemId });
      const unknown = await pluggy.sendWebhook(
        at(pluggyToken).replace(/mwh_.*$/, `mwh_${"C".repeat(43)}`),
        payload(),
      );
      const unknownBody = await unknown.json();
      const wrong: Array<Record<string, string>> = [{}, { [header.name]: `${header.value}0` }];
      for (const headers of wrong) {
        const refused = await pluggy.sendWebhook(at(pluggyToken), payload(), headers);
        assert.equal(refused.status, 404);
        assert.deepEqual(await refused.json(), unknownBody);
      }

      // Belvo sends its Authorization value.
      const linkId = belvo.links[0].id;
      const belvoEvent = () => belvo.webhooks.newTransactionsAvailable({ linkId, count: 1 });
      const ok = await belvo.sendWebhook(at(belvoToken), belvoEvent(), {
        Authorization: belvoHeader.value,
      });
      assert.equal(ok.status, 202);
      assert.equal((await belvo.sendWebhook(at(belvoToken), belvoEvent())).status, 404);

      // The accepted deliveries' pulls run.
      const pullId = (await ok.json()).pullId as string;
      await waitFor("the Belvo pull", async () => {
        const pull = await api.get(`/v1/discovery/pulls/${pullId}`);
        return pull.status === "succeeded";
      });

      const metrics = await fetch(`${service.baseUrl}/metrics`, {
        headers: { Authorization: `Bearer ${metricsToken}` },
      });
      const outcomes = Object.fromEntries(
        samplesOf(parseExposition(await metrics.text()), "matcher_webhooks_received_total")
          .map((s) => [`${s.labels.vendor} ${s.labels.outcome}`, s.value]),
      );
      assert.equal(outcomes["pluggy wrong_header_secret"], 2);
      assert.equal(outcomes["belvo wrong_header_secret"], 1);
      assert.equal(outcomes["pluggy unknown_token"], 1);
      // The one event reached the connection through both of its tokens: recorded once.
      assert.equal(outcomes["pluggy accepted"], 1);
      assert.equal(outcomes["pluggy duplicate"], 1);

      assert.equal((await service.stop()).code, 0);
      const secrets = [header.value, belvoHeader.value.slice("Bearer ".length)];
      const needles = secrets.flatMap(encodings);
      const logs = service.lines.join("\n");
      assert.ok(logs.includes(pluggyToken.id as string), "the log names the token by id");
      assert.deepEqual(needles.filter((n) => logs.includes(n)), [], "no log line holds a secret");
      const kv = await Deno.openKv(`${setup.dataDir}/kv.sqlite3`);
      try {
        const store = await kvText(kv);
        assert.deepEqual(needles.filter((n) => store.includes(n)), [], "KV holds no secret");
        for (const secret of secrets) {
          assert.ok(store.includes((await hashForms(secret))[0]), "KV holds each secret's hash");
        }
      } finally {
        kv.close();
      }
    } finally {
      await service.stop().catch(() => {});
      await pluggy.close();
      await belvo.close();
      await setup.cleanup();
      await db.drop();
    }
  },
});
