// The postgres.js pool: the only SQL driver in the service.
import postgres from "postgres";

export type Sql = postgres.Sql;

/** The pool or a transaction on it: what a query that may run inside a transaction takes. */
export type Db = Sql | postgres.TransactionSql;

export interface PoolOptions {
  /** Connections at most; the embedded database serves one at a time. */
  max?: number;
  /**
   * Postgres's `statement_timeout` on every connection (0 or unset: none). A statement stuck on a
   * lock or a starved server then fails (57014, a 503) instead of holding its request and its
   * connection for as long as the database hangs; a transaction left idle is ended after the same
   * time, so that it cannot hold its locks either.
   */
  statementTimeoutMs?: number;
}

export function createPool(url: string, options: PoolOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 60,
    backoff: reconnectDelaySeconds,
    connection: {
      application_name: "matcher-discovery",
      statement_timeout: options.statementTimeoutMs,
      idle_in_transaction_session_timeout: options.statementTimeoutMs,
    },
  });
}

/**
 * How long a pool connection waits before reconnecting after `retries` failed connections in a
 * row. postgres.js's default grows to 20 s (3^retries / 100) and its count only resets on a
 * successful connection, so after a few seconds of a Postgres restart every request waited up to
 * 20 s for a database that was back; this doubles from 50 ms and stays under 2 s.
 */
export function reconnectDelaySeconds(retries: number): number {
  return Math.min(0.05 * 2 ** Math.max(0, retries), 2);
}

/**
 * True when the database answers a trivial query within `timeoutMs`. While Postgres is down
 * postgres.js queues a query until a connection comes back rather than failing it, so without a
 * bound /ready would hang through an outage instead of answering 503.
 */
export async function pingDatabase(sql: Sql, timeoutMs = 2_000): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([sql`select 1`.then(() => true), late]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
