// The Pluggy fake in a process of its own, so the service and the SDK fetch from the same server.
// Usage: deno run --allow-net fake_pluggy_process.ts '<FakePluggyOptions as JSON>'
import { startFakePluggy } from "../tests/fakes/pluggy.ts";

const fake = await startFakePluggy(JSON.parse(Deno.args[0] ?? "{}"));
// The parent reads this first line: where the fake listens and which item and accounts it holds.
console.log(JSON.stringify({ url: fake.url, host: fake.host, items: fake.items }));
Deno.addSignalListener("SIGTERM", async () => {
  await fake.close();
  Deno.exit(0);
});
