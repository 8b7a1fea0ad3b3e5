// RabbitMQ for tests: the machine's broker on 127.0.0.1:5672, a fresh vhost per test (made and
// removed with rabbitmqctl, which the tests may run as root), and a queue bound to matcher.events
// that records what arrives.
import { Buffer } from "node:buffer";
import { Connection } from "rabbitmq-client";

export const BROKER = { hostname: "127.0.0.1", port: 5672 };

async function rabbitmqctl(...args: string[]): Promise<void> {
  const out = await new Deno.Command("rabbitmqctl", { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`rabbitmqctl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

export interface TestVhost {
  name: string;
  /** The AMQP URL of the vhost, through `host:port` when given (a proxy), else the broker. */
  url(host?: string): string;
  /** Lets guest read the exchange but not publish to it (`false`), or everything again. */
  allowPublishing(allowed: boolean): Promise<void>;
  delete(): Promise<void>;
}

/** A vhost of its own for one test, guest allowed everything in it. */
export async function createVhost(): Promise<TestVhost> {
  const name = `matcher-test-${crypto.randomUUID()}`;
  await rabbitmqctl("add_vhost", name);
  await rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*");
  return {
    name,
    url: (host = `${BROKER.hostname}:${BROKER.port}`) =>
      `amqp://guest:guest@${host}/${encodeURIComponent(name)}`,
    allowPublishing: (allowed) =>
      rabbitmqctl("set_permissions", "-p", name, "guest", ".*", allowed ? ".*" : "^$", ".*"),
    delete: () => rabbitmqctl("delete_vhost", name),
  };
}

/** One message as a consumer of matcher.events receives it. */
export interface Received {
  routingKey: string;
  messageId: string;
  contentType: string | undefined;
  deliveryMode: number | undefined;
  headers: Record<string, unknown>;
  body: Record<string, unknown>;
  raw: string;
}

export interface EventQueue {
  readonly messages: Received[];
  /** Waits until `check(messages)` holds. */
  until(what: string, check: (messages: Received[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Declares matcher.events (as the service does, idempotently) and a queue bound to it with `#`
 * and Matcher's dead-letter argument, and records every message, acknowledged at once.
 */
export async function bindQueue(url: string): Promise<EventQueue> {
  const rabbit = new Connection({ url, retryLow: 100, retryHigh: 500 });
  rabbit.on("error", () => {});
  const messages: Received[] = [];
  const queue = `test-${crypto.randomUUID()}`;
  const consumer = rabbit.createConsumer({
    queue,
    queueOptions: { durable: true, arguments: { "x-dead-letter-exchange": "matcher.events.dlx" } },
    exchanges: [{ exchange: "matcher.events", type: "topic", durable: true }],
    queueBindings: [{ queue, exchange: "matcher.events", routingKey: "#" }],
    qos: { prefetchCount: 100 },
  }, (msg) => {
    const raw = Buffer.isBuffer(msg.body) ? msg.body.toString("utf8") : JSON.stringify(msg.body);
    messages.push({
      routingKey: msg.routingKey,
      messageId: msg.messageId as string,
      contentType: msg.contentType,
      deliveryMode: msg.durable ? 2 : 1,
      headers: (msg.headers ?? {}) as Record<string, unknown>,
      body: JSON.parse(raw),
      raw,
    });
  });
  consumer.on("error", () => {});
  await new Promise<void>((resolve) => consumer.once("ready", () => resolve()));
  return {
    messages,
    async until(what, check, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check(messages)) {
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${what} (${messages.length} messages)`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      await consumer.close();
      await rabbit.close();
    },
  };
}
