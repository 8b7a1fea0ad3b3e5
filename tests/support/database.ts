// Test databases: a fresh database per suite on TEST_DATABASE_URL, or embedded PGlite where none runs.
import postgres from "postgres";
import { startEmbeddedPostgres } from "../../src/db/embedded.ts";

export const TEST_DATABASE_URL = Deno.env.get("TEST_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  url: string;
  /** Connections the database takes at once (1 for embedded PGlite). */
  maxConnections: number;
  drop(): Promise<void>;
}

let warned = false;

/**
 * An empty database that two service processes can share; on embedded PGlite, which serves one
 * connection, none: the test is marked ignored with a step that says why.
 */
export async function createSharedTestDatabase(
  t: Deno.TestContext,
): Promise<TestDatabase | undefined> {
  const db = await createTestDatabase();
  if (db.maxConnections >= 2) return db;
  await db.drop();
  await t.step({ name: "needs a Postgres server", ignore: true, fn: () => {} });
  return undefined;
}

/** Creates an empty database; in CI a missing server is a failure, elsewhere PGlite stands in. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {}, connect_timeout: 3 });
  try {
    await admin`select 1`;
  } catch (err) {
    await admin.end({ timeout: 1 });
    if (Deno.env.get("CI")) {
      throw new Error(
        `CI needs a real Postgres at ${TEST_DATABASE_URL}: ${(err as Error).message}`,
      );
    }
    if (!warned) {
      console.warn(`No Postgres at ${TEST_DATABASE_URL}: running on embedded PGlite instead.`);
      warned = true;
    }
    const embedded = await startEmbeddedPostgres(undefined);
    return { url: embedded.url, maxConnections: 1, drop: () => embedded.stop() };
  }
  const name = `matcher_test_${crypto.randomUUID().replaceAll("-", "")}`;
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    maxConnections: 10,
    async drop() {
      const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
