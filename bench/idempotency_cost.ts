// What an Idempotency-Key costs a write: creates with and without a key, and replays, against the
// real service process, in alternating rounds so that the machine's drift falls on both alike.
// `deno run --allow-all bench/idempotency_cost.ts [rounds] [per round] [in flight]`
import { startBenchService } from "./service.ts";

const ROUNDS = Number(Deno.args[0] ?? 10);
const PER_ROUND = Number(Deno.args[1] ?? 100);
const IN_FLIGHT = Number(Deno.args[2] ?? 4);

const service = await startBenchService();
let n = 0;
const body = () =>
  JSON.stringify({
    vendor: "pluggy",
    configName: `bench-${n++}`,
    baseUrl: "https://api.pluggy.ai",
    accountRef: "item",
    clientId: "bench-client-id",
    secret: "bench-client-secret",
  });

async function create(key?: string, text = body()): Promise<void> {
  const res = await fetch(`${service.baseUrl}/v1/discovery/aggregator-connections`, {
    method: "POST",
    headers: {
      Authorization: service.authorization,
      "Content-Type": "application/json",
      ...(key ? { "Idempotency-Key": key } : {}),
    },
    body: text,
  });
  await res.body?.cancel();
  if (res.status !== 201) throw new Error(`create answered ${res.status}`);
}

/** Seconds for `count` calls of `call`, `IN_FLIGHT` at a time. */
async function timed(count: number, call: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < count) await call(next++);
  }));
  return (performance.now() - started) / 1000;
}

try {
  // Warm-up: JIT, connections, the key store's first pages.
  await timed(PER_ROUND, () => create());
  await timed(PER_ROUND, () => create(crypto.randomUUID()));
  const totals = { plain: 0, keyed: 0, replayed: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    totals.plain += await timed(PER_ROUND, () => create());
    totals.keyed += await timed(PER_ROUND, () => create(crypto.randomUUID()));
    // A replay: each key's first create, then its repeat, timed.
    const firsts = Array.from({ length: PER_ROUND }, () => [crypto.randomUUID(), body()]);
    await timed(PER_ROUND, (i) => create(firsts[i][0], firsts[i][1]));
    totals.replayed += await timed(PER_ROUND, (i) => create(firsts[i][0], firsts[i][1]));
  }
  const count = ROUNDS * PER_ROUND;
  const rate = (seconds: number) => Math.round(count / seconds);
  console.log(
    `creates, ${IN_FLIGHT} in flight, ${count} each: without a key ${rate(totals.plain)}/s, ` +
      `with a key ${rate(totals.keyed)}/s (${(totals.plain / totals.keyed).toFixed(2)}× the ` +
      `rate without), replays ${rate(totals.replayed)}/s ` +
      `(${(totals.plain / totals.replayed).toFixed(2)}×)`,
  );
  const [{ rows }] = await service.sql`select count(*)::int as rows from idempotency_keys`;
  console.log(`${rows} keys stored`);
} finally {
  await service.close();
}
