// What a writer of events holds when events are on: the relay to wake once its events committed.

/**
 * Present only when MATCHER_AMQP_URL is set: writers then append events to the outbox in the
 * transaction they announce (src/events/events.repository.ts), and call `written` after it
 * committed so that the relay publishes them at once instead of at its next poll.
 */
export interface Outbox {
  written(): void;
}
