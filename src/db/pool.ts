// The postgres.js pool: the only SQL driver in the service.
import postgres from "postgres";

export type Sql = postgres.Sql;
/** The pool or a transaction on it: what a query that may run inside a transaction takes. */
export type Db = Sql | postgres.TransactionSql;

export interface PoolOptions {
  /** Connections at most; the embedded database serves one at a time. */
  max?: number;
}

export function createPool(url: string, options: PoolOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 60,
    connection: { application_name: "matcher-discovery" },
  });
}

/** True when the database answers a trivial query. */
export async function pingDatabase(sql: Sql): Promise<boolean> {
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  }
}
