// The outbox relay: one replica at a time publishes unsent events in the order they were written
// (per connection: commit order), marks each sent once the broker confirmed it, and backs off,
// capped, while the broker is down or refuses.
import type postgres from "postgres";
import { cursorBefore } from "../changes/feed_cursor.ts";
import type { Sql } from "../db/pool.ts";
import { errorSummary } from "../lib/error_summary.ts";
import type { Logger } from "../lib/logger.ts";
import type { Broker, EventMessage, PublishOutcome } from "./broker.ts";
import { markSent, type OutboxRow, unsentEvents } from "./events.repository.ts";

/** The session advisory lock the publishing replica holds (another class than migrations'). */
const RELAY_LOCK = 1_405_014_020_503;

export interface RelayDeps {
  sql: Sql;
  broker: Broker;
  logger: Logger;
  now: () => number;
  /** Told the outcome of every publish (the metrics). */
  observe?: (outcome: PublishOutcome) => void;
  /** Events published per round; default 200. */
  batchSize?: number;
  /** How often an idle leader looks for events another replica wrote; default 1 s. */
  pollMs?: number;
  /** How often a replica that is not publishing tries to become the one that does; default 5 s. */
  standbyMs?: number;
  /** Waits after a failed round: from `minMs`, doubling, at most `maxMs`; default 250 ms to 10 s. */
  backoff?: { minMs: number; maxMs: number };
  random?: () => number;
}

export interface Relay {
  /** Starts trying to become the publisher, then publishing. */
  start(): void;
  /** Events were written: publish now rather than at the next poll. */
  wake(): void;
  /** True while this replica holds the publishing lock. */
  readonly leading: boolean;
  /** Stops after the round in progress, releases the lock and closes the broker connection. */
  stop(): Promise<void>;
}

/**
 * The publishing replica holds a session-level advisory lock on a connection reserved from the
 * pool, and reads and marks the outbox on that same connection: the lock dies with the process or
 * with the connection, and a leader whose connection died learns it from its next query, before
 * it marks anything. Other replicas try for the lock every `standbyMs`. One publisher at a time
 * keeps each connection's events in order without per-connection claims; confirms are pipelined,
 * so one relay publishes thousands of events a second.
 */
export function createRelay(deps: RelayDeps): Relay {
  const { sql, broker, logger } = deps;
  const batchSize = deps.batchSize ?? 200;
  const pollMs = deps.pollMs ?? 1_000;
  const standbyMs = deps.standbyMs ?? 5_000;
  const backoff = deps.backoff ?? { minMs: 250, maxMs: 10_000 };
  const random = deps.random ?? Math.random;
  const exclusive = (sql.options.max ?? 10) > 1;
  let lead: postgres.ReservedSql | Sql | undefined;
  let stopping = false;
  let pending = true;
  /** The pause in progress, and whether `wake` may end it (`stop` always does). */
  let sleeper: { done: () => void; wakeable: boolean } | undefined;
  let loop: Promise<void> | undefined;
  let failures = 0;

  /** Waits `ms`, or until stopped, or until woken when `wakeable`. */
  function pause(ms: number, wakeable: boolean): Promise<void> {
    if (stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleeper = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      sleeper = { done, wakeable };
    });
  }

  async function takeLead(): Promise<boolean> {
    // The embedded database serves one connection: the pool's only one holds the lock.
    const db = exclusive ? await sql.reserve() : sql;
    try {
      const [r] = await db`select pg_try_advisory_lock(${RELAY_LOCK}) as ok`;
      if (r.ok) {
        lead = db;
        logger.info({ msg: "publishing events from the outbox" });
        return true;
      }
    } catch (err) {
      logger.warn({ msg: "could not try for the outbox relay lock", error: errorSummary(err) });
    }
    if (db !== sql) (db as postgres.ReservedSql).release();
    return false;
  }

  async function dropLead(): Promise<void> {
    const db = lead;
    lead = undefined;
    if (!db) return;
    // Bounded: on a connection that died, the lock is gone already and the query may only hang.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      db`select pg_advisory_unlock(${RELAY_LOCK})`.catch(() => {}),
      new Promise((resolve) => timer = setTimeout(resolve, 2_000)),
    ]);
    clearTimeout(timer);
    if (db !== sql) (db as postgres.ReservedSql).release();
  }

  /** Publishes one batch; answers false when there was nothing to publish. */
  async function round(db: postgres.ReservedSql | Sql): Promise<boolean> {
    const rows = await unsentEvents(db, batchSize);
    if (!rows.length) return false;
    const outcomes = await broker.publish(rows.map(toMessage));
    for (const outcome of outcomes) deps.observe?.(outcome);
    // Only the confirmed prefix counts as sent: an event after an unconfirmed one is published
    // again after it, so a connection's events are never marked out of order.
    let confirmed = outcomes.findIndex((o) => o !== "confirmed");
    if (confirmed < 0) confirmed = rows.length;
    await markSent(db, rows.slice(0, confirmed).map((r) => r.id), new Date(deps.now()));
    if (confirmed < rows.length) {
      failures++;
      const outcome = outcomes[confirmed];
      if (failures === 1 || failures % 20 === 0) {
        logger.warn({ msg: "publishing events failed; will retry", outcome, failures });
      }
      await pause(delay(), false);
    } else {
      if (failures) logger.info({ msg: "publishing events again", failures });
      failures = 0;
    }
    return true;
  }

  const delay = () => relayDelayMs(failures, backoff, random);

  async function run(): Promise<void> {
    while (!stopping) {
      try {
        if (!lead && !(await takeLead())) {
          await pause(standbyMs, false);
          continue;
        }
        if (!broker.connected) {
          // Waiting for the broker's own reconnection, which costs nothing to look at.
          failures++;
          await pause(Math.min(delay(), 1_000), false);
          continue;
        }
        pending = false;
        const more = await round(lead!);
        if (!more && !pending) await pause(pollMs, true);
      } catch (err) {
        // The database went away (or the lock's connection did): step down and try again later.
        logger.error({ msg: "outbox relay round failed", error: errorSummary(err) });
        await dropLead();
        failures++;
        await pause(delay(), false);
      }
    }
  }

  return {
    start() {
      loop ??= run();
    },
    wake() {
      pending = true;
      if (sleeper?.wakeable) sleeper.done();
    },
    get leading() {
      return lead !== undefined;
    },
    async stop() {
      stopping = true;
      sleeper?.done();
      await loop;
      await dropLead();
      await broker.close();
    },
  };
}

/**
 * The wait after `failures` failed rounds in a row: from `minMs`, doubling, at most `maxMs`, drawn
 * from the upper half ("equal jitter") so that replicas coming back together spread out.
 */
export function relayDelayMs(
  failures: number,
  backoff: { minMs: number; maxMs: number },
  random: () => number,
): number {
  const cap = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30));
  return cap / 2 + random() * (cap / 2);
}

const [OPEN, CLOSE] = [..."{}"].map((c) => c.charCodeAt(0));

/** An outbox row as the message it is published as: the body with its number and cursor added. */
export function toMessage(row: OutboxRow): EventMessage {
  const body = row.body;
  if (body[0] !== OPEN || body[body.length - 1] !== CLOSE) {
    throw new Error(`outbox event ${row.id} has no JSON object body`);
  }
  const extra = new TextEncoder().encode(
    `,"sequence":${row.sequence},"cursor":${JSON.stringify(cursorBefore(row.horizon))}}`,
  );
  const message = new Uint8Array(body.length - 1 + extra.length);
  message.set(body.subarray(0, body.length - 1));
  message.set(extra, body.length - 1);
  return {
    routingKey: row.routingKey,
    messageId: row.messageId,
    tenantId: row.tenantId,
    body: message,
    traceparent: row.traceparent,
    timestamp: row.createdAt,
  };
}
