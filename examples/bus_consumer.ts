// A consumer of the discovery events on Matcher's bus: binds its own queue to matcher.events with
// the dead-letter argument, applies each transactions.changed and connection.deleted event once
// (de-duplicated on message_id), and acknowledges only once the change is saved.
//
//   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 \
//     deno run --allow-net --allow-env --allow-read --allow-write examples/bus_consumer.ts
//
// QUEUE (default discovery-consumer) names the durable queue, STATE_FILE (default bus-state.json)
// the copy. IDLE_EXIT_MS stops it after that long without a message (for scripts and tests).
// Outside this repository, `deno add npm:rabbitmq-client@5.0.8` first (this repo maps it).
import { Buffer } from "node:buffer";
import { type AsyncMessage, Connection, ConsumerStatus } from "rabbitmq-client";

interface State {
  transactions: Record<string, Record<string, unknown>>;
  /** Per transaction: the `sequence` of the event that set it, so an older redelivery is ignored. */
  versions: Record<string, number>;
  /** message_ids applied (at-least-once delivery: the same event can come again). */
  seen: string[];
}

const url = Deno.env.get("AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672";
const queue = Deno.env.get("QUEUE") ?? "discovery-consumer";
const stateFile = Deno.env.get("STATE_FILE") ?? "bus-state.json";
const idleExitMs = Number(Deno.env.get("IDLE_EXIT_MS") ?? 0);

let state: State;
try {
  state = JSON.parse(await Deno.readTextFile(stateFile));
} catch {
  state = { transactions: {}, versions: {}, seen: [] };
}
const seen = new Set(state.seen);
async function save(): Promise<void> {
  state.seen = [...seen];
  await Deno.writeTextFile(`${stateFile}.tmp`, JSON.stringify(state));
  await Deno.rename(`${stateFile}.tmp`, stateFile);
}

function apply(routingKey: string, event: Record<string, unknown>): void {
  const sequence = event.sequence as number;
  if (routingKey === "discovery.connection.deleted") {
    for (const [id, t] of Object.entries(state.transactions)) {
      if (t.connectionId === event.connectionId) delete state.transactions[id];
    }
  }
  if (routingKey !== "discovery.transactions.changed") return; // pull.completed, pull.failed
  const changes = event.changes as { change: string; id: string; transaction: unknown }[];
  for (const c of changes) {
    if ((state.versions[c.id] ?? 0) >= sequence) continue; // an older event, delivered late
    state.versions[c.id] = sequence;
    if (c.change === "deleted") delete state.transactions[c.id];
    else state.transactions[c.id] = c.transaction as Record<string, unknown>;
  }
}

const rabbit = new Connection(url);
rabbit.on("error", (err) => console.error("broker:", err.code ?? err.message));
let last = Date.now();
let applied = 0;
const consumer = rabbit.createConsumer({
  queue,
  // Durable, and rejected or expired messages go to Matcher's dead-letter queue.
  queueOptions: { durable: true, arguments: { "x-dead-letter-exchange": "matcher.events.dlx" } },
  exchanges: [{ exchange: "matcher.events", type: "topic", durable: true }],
  queueBindings: [{ queue, exchange: "matcher.events", routingKey: "discovery.#" }],
  qos: { prefetchCount: 1 },
}, async (msg: AsyncMessage) => {
  last = Date.now();
  if (!msg.messageId || seen.has(msg.messageId)) return ConsumerStatus.ACK; // a duplicate
  // rabbitmq-client parses application/json bodies itself; anything else is no event of ours.
  const event = msg.contentType === "application/json" ? msg.body : undefined;
  if (typeof event !== "object" || event === null || Buffer.isBuffer(event)) {
    return ConsumerStatus.DROP; // rejected without requeue: to the dead-letter queue
  }
  apply(msg.routingKey, event);
  seen.add(msg.messageId);
  applied++;
  await save(); // then acknowledged: a crash before this point gets the message again
  return ConsumerStatus.ACK;
});
consumer.on("error", (err) => console.error("consumer:", err.code ?? err.message));
// Idle counts from when the queue is bound and consuming, not from the start of the process.
consumer.on("ready", () => last = Date.now());

if (idleExitMs > 0) {
  await new Promise((resolve) => consumer.once("ready", resolve));
  while (Date.now() - last < idleExitMs) await new Promise((r) => setTimeout(r, 100));
  await consumer.close();
  await rabbit.close();
  console.log(JSON.stringify({ applied, transactions: Object.keys(state.transactions).length }));
}
