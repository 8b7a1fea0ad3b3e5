// One tenant's flood of huge webhooks must not slow another tenant's deliveries: latency measured
// as a ratio of the victim's own idle figure, in the same test.
import assert from "node:assert/strict";
import { newTenant } from "../support/harness.ts";
import { wirePluggy } from "../support/pulls.ts";

/** The 90th percentile of `values`. */
const p90 = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.9)];

Deno.test("24 deliveries of 10,000 ids from one tenant leave another's p90 near its idle value", async () => {
  // The attacker's pulls never run (wake: false), as in the attack: only receipt costs count.
  const w = await wirePluggy({}, { pulls: { wake: false } });
  try {
    const [bank] = w.fake.items[0].accounts;
    const victim = newTenant();
    const created = await w.h.request("/v1/discovery/aggregator-connections", {
      method: "POST",
      tenant: victim,
      json: {
        vendor: "pluggy",
        configName: "victim",
        baseUrl: w.fake.url,
        accountRef: "victim-item",
        clientId: "fake-client-id",
        secret: "fake-client-secret",
      },
    });
    assert.equal(created.status, 201);
    const minted = await w.h.request("/v1/discovery/webhooks/tokens", {
      method: "POST",
      tenant: victim,
      json: { vendor: "pluggy", connection_config_name: "victim" },
    });
    const victimUrl = (await minted.json()).webhookUrl as string;

    /** The victim's deliveries, four at a time: each one's latency in ms. */
    const victimRun = async (count: number): Promise<number[]> => {
      const latencies: number[] = [];
      let next = 0;
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (next < count) {
          next++;
          const started = performance.now();
          const res = await w.fake.sendWebhook(
            victimUrl,
            w.fake.webhooks.itemUpdated({ itemId: "victim-item" }),
          );
          await res.body?.cancel();
          latencies.push(performance.now() - started);
          assert.equal(res.status, 202);
        }
      }));
      return latencies;
    };

    await victimRun(20); // warm-up
    const idleBefore = p90(await victimRun(120));

    const attack = Promise.all(Array.from({ length: 4 }, async (_, lane) => {
      for (let e = lane; e < 24; e += 4) {
        const res = await w.fake.sendWebhook(
          w.webhookUrl,
          w.fake.webhooks.transactionsUpdated({
            itemId: w.accountRef,
            accountId: bank.id,
            transactionIds: Array.from({ length: 10_000 }, (_, i) => `t-${e}-${i}`),
            eventId: `attack-${e}`,
          }),
        );
        await res.body?.cancel();
        assert.equal(res.status, 202);
      }
    }));
    const [underAttack] = await Promise.all([victimRun(120), attack]);
    // Idle is measured before and after the attack, so that the machine's own drift cancels out.
    const idle = (idleBefore + p90(await victimRun(120))) / 2;
    const ratio = p90(underAttack) / idle;
    console.log(
      `victim p90 idle ${idle.toFixed(1)} ms, under attack ${p90(underAttack).toFixed(1)} ms ` +
        `(${ratio.toFixed(1)}x)`,
    );
    assert.ok(ratio < 5, `the victim's p90 rose ${ratio.toFixed(1)}x under the attack`);
  } finally {
    await w.close();
  }
});
