// The Pluggy fake in a process of its own, so the service and the SDK fetch from the same server.
// Usage: deno run --allow-net fake_pluggy_process.ts '<FakePluggyOptions as JSON>' [page delay ms]
// With a page delay, every page of transactions (v1 and v2) takes that long to answer, as real
// aggregators take hundreds of milliseconds a page.
import { startFakePluggy } from "../tests/fakes/pluggy.ts";

const fake = await startFakePluggy(JSON.parse(Deno.args[0] ?? "{}"));
const pageDelayMs = Number(Deno.args[1] ?? 0);
if (pageDelayMs > 0) {
  fake.faults.add({
    method: "GET",
    path: /^\/(v2\/)?transactions$/,
    times: Infinity,
    fault: { delayMs: pageDelayMs },
  });
}
// The parent reads this first line: where the fake listens and which item and accounts it holds.
console.log(JSON.stringify({ url: fake.url, host: fake.host, items: fake.items }));
Deno.addSignalListener("SIGTERM", async () => {
  await fake.close();
  Deno.exit(0);
});
