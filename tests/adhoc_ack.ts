import { wirePluggy } from "./support/pulls.ts";
const w = await wirePluggy({}, { pulls: { wake: false } });
const total = 6000, conc = 64;
let next = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: conc }, async () => {
  while (next < total) {
    next++;
    const res = await w.fake.sendWebhook(
      w.webhookUrl,
      w.fake.webhooks.itemUpdated({ itemId: w.accountRef }),
    );
    await res.body?.cancel();
    if (res.status !== 202) throw new Error(String(res.status));
  }
}));
const s = (performance.now() - t0) / 1000;
console.log(`${total} acks in ${s.toFixed(2)} s: ${(total / s).toFixed(0)}/s`);
await w.close();
