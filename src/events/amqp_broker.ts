// The broker over AMQP 0-9-1 with rabbitmq-client: Matcher's topology declared on each connection,
// confirmed publishes, and reconnection with a capped backoff.
import { Buffer } from "node:buffer";
import { AMQPError, type Channel, Connection } from "rabbitmq-client";
import type { Logger } from "../lib/logger.ts";
import {
  type Broker,
  DEAD_LETTER_EXCHANGE,
  DEAD_LETTER_QUEUE,
  type EventMessage,
  EXCHANGE,
  type PublishOutcome,
} from "./broker.ts";

export interface AmqpBrokerOptions {
  /** `amqp://user:password@host:port/vhost`; never logged (it holds the password). */
  url: string;
  logger: Logger;
  /** Reconnect delays: from `retryLowMs`, doubling, at most `retryHighMs` (with jitter). */
  retryLowMs?: number;
  retryHighMs?: number;
  /** How long a publish waits for a connection before it counts as failed. */
  acquireTimeoutMs?: number;
}

const TOPOLOGY = {
  exchanges: [
    { exchange: EXCHANGE, type: "topic", durable: true },
    { exchange: DEAD_LETTER_EXCHANGE, type: "topic", durable: true },
  ],
  queues: [{ queue: DEAD_LETTER_QUEUE, durable: true }],
  queueBindings: [{ queue: DEAD_LETTER_QUEUE, exchange: DEAD_LETTER_EXCHANGE, routingKey: "#" }],
};

/**
 * Connects in the background and keeps reconnecting (rabbitmq-client's own loop, capped at
 * `retryHighMs`), declaring the topology each time; publishes never wait longer than
 * `acquireTimeoutMs` for a connection, so the relay's own backoff decides when to try again.
 */
export function connectAmqpBroker(options: AmqpBrokerOptions): Broker {
  const { logger } = options;
  const rabbit = new Connection({
    url: options.url,
    connectionName: "matcher-discovery",
    retryLow: options.retryLowMs ?? 250,
    retryHigh: options.retryHighMs ?? 5_000,
    connectionTimeout: 10_000,
    acquireTimeout: options.acquireTimeoutMs ?? 5_000,
    // RabbitMQ's own maximum rather than the client's 8 KB: a page's event (a few hundred KB)
    // goes out in a few frames instead of forty, each one less to encode, write and parse.
    frameMax: 131_072,
  });
  let connected = false;
  let lastCode: string | undefined;
  rabbit.on("connection", () => {
    connected = true;
    lastCode = undefined;
    logger.info({ msg: "connected to the event broker" });
    declareTopology(rabbit).catch((err) => {
      logger.warn({ msg: "declaring the event topology failed", code: codeOf(err) });
    });
  });
  rabbit.on("error", (err) => {
    connected = rabbit.ready;
    // The code only, once per kind in a row: the message may name the host, never the password,
    // but a broker down for an hour must not write a line per retry.
    const code = codeOf(err);
    if (code !== lastCode) logger.warn({ msg: "event broker connection failed", code });
    lastCode = code;
  });
  // One channel in confirm mode, opened when needed. A batch is written on it in one go, so a
  // channel that dies mid-batch fails every message after the failed one as well: a later event
  // of a connection is never confirmed ahead of an earlier one that must be sent again.
  let channel: Channel | undefined;
  async function openChannel(): Promise<Channel> {
    if (channel?.active) return channel;
    const ch = await rabbit.acquire();
    ch.on("error", () => {});
    await ch.confirmSelect();
    for (const e of TOPOLOGY.exchanges) await ch.exchangeDeclare(e);
    channel = ch;
    return ch;
  }

  function publishOne(ch: Channel, m: EventMessage): Promise<PublishOutcome> {
    return ch.basicPublish({
      exchange: EXCHANGE,
      routingKey: m.routingKey,
      durable: true,
      contentType: "application/json",
      messageId: m.messageId,
      timestamp: Math.floor(m.timestamp.getTime() / 1000),
      headers: {
        idempotency_key: m.messageId,
        "X-Tenant-ID": m.tenantId,
        ...(m.traceparent ? { traceparent: m.traceparent } : {}),
      },
    }, Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength)).then(
      () => "confirmed" as const,
      outcomeOf,
    );
  }

  return {
    get connected() {
      return connected && rabbit.ready;
    },
    async publish(messages) {
      let ch: Channel;
      try {
        ch = await openChannel();
      } catch (err) {
        const outcome = outcomeOf(err);
        return messages.map(() => outcome);
      }
      return await Promise.all(messages.map((m) => publishOne(ch, m)));
    },
    async close() {
      await channel?.close().catch(() => {});
      await rabbit.close().catch(() => {});
    },
  };
}

/** A nack, or a channel the broker closed on us (a missing exchange, an access refusal), is a
 * refusal; a connection that is gone or could not be had in time is a failure. */
function outcomeOf(err: unknown): PublishOutcome {
  const code = codeOf(err);
  return code === "NACK" || (err instanceof AMQPError && !isConnectionCode(code))
    ? "refused"
    : "failed";
}

async function declareTopology(rabbit: Connection): Promise<void> {
  for (const e of TOPOLOGY.exchanges) await rabbit.exchangeDeclare(e);
  for (const q of TOPOLOGY.queues) await rabbit.queueDeclare(q);
  for (const b of TOPOLOGY.queueBindings) await rabbit.queueBind(b);
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : (err as Error)?.name ?? "Error";
}

/** rabbitmq-client's codes for a connection that is gone or could not be had in time. */
function isConnectionCode(code: string): boolean {
  return [
    "CONN_CLOSE",
    "CH_CLOSE",
    "TIMEOUT",
    "CONNECTION_TIMEOUT",
    "SOCKET_TIMEOUT",
    "ECONNREFUSED",
  ]
    .includes(code) || code.startsWith("E");
}
