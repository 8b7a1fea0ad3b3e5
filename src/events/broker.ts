// The broker side of the relay: what it publishes through, small enough for a test to replace.

/** One event as it goes on the wire. */
export interface EventMessage {
  routingKey: string;
  /** The outbox row's UUID: the message id, and the idempotency_key header. */
  messageId: string;
  tenantId: string;
  /** The JSON body, UTF-8. */
  body: Uint8Array;
  traceparent?: string | null;
  /** When the event was written. */
  timestamp: Date;
}

/**
 * How one publish ended: `confirmed` by the broker, `refused` (the broker answered with a nack or
 * closed the channel, e.g. the exchange is gone) or `failed` (no answer: the connection dropped,
 * or none could be had in time).
 */
export type PublishOutcome = "confirmed" | "refused" | "failed";

export interface Broker {
  /** True while this process holds a connection to the broker. */
  readonly connected: boolean;
  /**
   * Publishes the messages in order on one channel in confirm mode and answers each one's
   * outcome, in the same order, once the broker answered each (or could not).
   */
  publish(messages: EventMessage[]): Promise<PublishOutcome[]>;
  close(): Promise<void>;
}

/** Matcher's exchange and its dead-letter topology, declared on every connection. */
export const EXCHANGE = "matcher.events";
export const DEAD_LETTER_EXCHANGE = "matcher.events.dlx";
export const DEAD_LETTER_QUEUE = "matcher.events.dlq";
