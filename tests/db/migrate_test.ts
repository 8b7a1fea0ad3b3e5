// Schema migrations on a fresh database: once each, safe under concurrent starts, checksummed, atomic.
import assert from "node:assert/strict";
import { migrate, MigrationError, readMigrations } from "../../src/db/migrate.ts";
import { createPool, type Sql } from "../../src/db/pool.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

/** Runs `fn` against a fresh, empty database and drops it afterwards. */
async function withDatabase(fn: (db: TestDatabase, sql: Sql) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  const sql = createPool(db.url, { max: Math.min(2, db.maxConnections) });
  try {
    await fn(db, sql);
  } finally {
    await sql.end({ timeout: 5 });
    await db.drop();
  }
}

async function appliedVersions(sql: Sql): Promise<string[]> {
  const rows = await sql<
    { version: string }[]
  >`select version from schema_migrations order by version`;
  return rows.map((r) => r.version);
}

async function tableExists(sql: Sql, name: string): Promise<boolean> {
  const [row] = await sql<{ exists: boolean }[]>`select to_regclass(${name}) is not null as exists`;
  return row.exists;
}

Deno.test("the migration files are read in version order with their names", async () => {
  const migrations = await readMigrations();
  assert.ok(migrations.length > 0);
  assert.equal(migrations[0].version, "0001");
  assert.equal(migrations[0].name, "connections");
  const versions = migrations.map((m) => m.version);
  assert.deepEqual(versions, [...versions].sort());
  assert.equal(new Set(versions).size, versions.length, "versions are unique");
});

Deno.test("migrate applies every version once and a second run applies none", async () => {
  const migrations = await readMigrations();
  const versions = migrations.map((m) => m.version);
  await withDatabase(async (_db, sql) => {
    assert.equal(await tableExists(sql, "connections"), false, "the database starts empty");
    assert.deepEqual(await migrate(sql), versions);
    assert.deepEqual(await appliedVersions(sql), versions);
    assert.equal(await tableExists(sql, "connections"), true);

    const rows = await sql<{ version: string; name: string; checksum: string }[]>`
      select version, name, checksum from schema_migrations order by version`;
    assert.deepEqual(rows.map((r) => r.name), migrations.map((m) => m.name));
    for (const row of rows) assert.match(row.checksum, /^[0-9a-f]{64}$/);

    assert.deepEqual(await migrate(sql), []);
    assert.deepEqual(await appliedVersions(sql), versions);
  });
});

Deno.test("a later migration is applied on its own after the earlier ones", async () => {
  const migrations = await readMigrations();
  await withDatabase(async (_db, sql) => {
    await migrate(sql, migrations);
    const later = { version: "9001", name: "later", sql: "create table later_table (id int)" };
    assert.deepEqual(await migrate(sql, [...migrations, later]), ["9001"]);
    assert.equal(await tableExists(sql, "later_table"), true);
    assert.deepEqual(await migrate(sql, [...migrations, later]), []);
  });
});

Deno.test("five concurrent migrate calls on separate pools all succeed and apply each version once", async () => {
  const versions = (await readMigrations()).map((m) => m.version);
  await withDatabase(async (db, sql) => {
    if (db.maxConnections < 2) return; // embedded PGlite serves one connection: nothing concurrent
    const pools = Array.from({ length: 5 }, () => createPool(db.url, { max: 1 }));
    try {
      const results = await Promise.all(pools.map((pool) => migrate(pool)));
      assert.deepEqual(results.flat().sort(), versions, "each version applied by exactly one call");
      assert.equal(results.filter((r) => r.length > 0).length, 1, "one call did all the work");
    } finally {
      await Promise.all(pools.map((pool) => pool.end({ timeout: 5 })));
    }
    const rows = await sql<{ version: string; n: number }[]>`
      select version, count(*)::int as n from schema_migrations group by version order by version`;
    assert.deepEqual(rows.map((r) => r.version), versions);
    assert.ok(rows.every((r) => r.n === 1));
  });
});

Deno.test("an applied migration whose text was edited stops migrate with a MigrationError naming it", async () => {
  const migrations = await readMigrations();
  await withDatabase(async (_db, sql) => {
    await migrate(sql, migrations);
    const edited = migrations.map((m, i) => i === 0 ? { ...m, sql: m.sql + "\n-- edited" } : m);
    await assert.rejects(migrate(sql, edited), (err: unknown) => {
      assert.ok(err instanceof MigrationError, `expected a MigrationError, got ${err}`);
      assert.match(err.message, new RegExp(`${migrations[0].version}_${migrations[0].name}`));
      assert.match(err.message, /edited/);
      return true;
    });
    assert.deepEqual(await migrate(sql, migrations), [], "the unedited files still migrate");
  });
});

Deno.test("an edited migration stops migrate before any later migration is applied", async () => {
  const migrations = await readMigrations();
  await withDatabase(async (_db, sql) => {
    await migrate(sql, migrations);
    const edited = migrations.map((m, i) => i === 0 ? { ...m, sql: m.sql + "\n-- edited" } : m);
    const later = { version: "9001", name: "later", sql: "create table later_table (id int)" };
    await assert.rejects(migrate(sql, [...edited, later]), MigrationError);
    assert.equal(await tableExists(sql, "later_table"), false);
    assert.ok(!(await appliedVersions(sql)).includes("9001"));
  });
});

Deno.test("a failing migration rolls back: no schema_migrations row and no partial table", async () => {
  const migrations = await readMigrations();
  const broken = {
    version: "9001",
    name: "broken",
    sql: [
      "create table half_done (id int primary key);",
      "insert into half_done values (1);",
      "select * from no_such_table;",
      "create table never_reached (id int);",
    ].join("\n"),
  };
  await withDatabase(async (_db, sql) => {
    await migrate(sql, migrations);
    await assert.rejects(migrate(sql, [...migrations, broken]), /no_such_table/);
    assert.ok(!(await appliedVersions(sql)).includes("9001"), "no row for the failed version");
    assert.equal(await tableExists(sql, "half_done"), false, "its first statement was undone");
    assert.equal(await tableExists(sql, "never_reached"), false);

    const fixed = { ...broken, sql: "create table half_done (id int primary key);" };
    assert.deepEqual(await migrate(sql, [...migrations, fixed]), ["9001"], "a fixed retry applies");
    assert.equal(await tableExists(sql, "half_done"), true);
  });
});

Deno.test("a failing first migration on a fresh database leaves only the empty ledger", async () => {
  await withDatabase(async (_db, sql) => {
    const broken = {
      version: "0001",
      name: "broken",
      sql: "create table half_done (id int); select 1/0;",
    };
    await assert.rejects(migrate(sql, [broken]), /division by zero/);
    assert.deepEqual(await appliedVersions(sql), []);
    assert.equal(await tableExists(sql, "half_done"), false);
  });
});

Deno.test("a failed migration releases the lock so another caller can migrate", async () => {
  const migrations = await readMigrations();
  await withDatabase(async (db, sql) => {
    const broken = { version: "0001", name: "broken", sql: "select * from no_such_table" };
    await assert.rejects(migrate(sql, [broken]));
    const [held] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_locks
      where locktype = 'advisory' and granted
        and database = (select oid from pg_database where datname = current_database())`;
    assert.equal(held.n, 0, "no advisory lock is left held");
    const other = createPool(db.url, { max: 1 });
    try {
      assert.deepEqual(await migrate(other, migrations), migrations.map((m) => m.version));
    } finally {
      await other.end({ timeout: 5 });
    }
  });
});

Deno.test("a migration whose ledger row cannot be written is rolled back with it", async () => {
  const migrations = await readMigrations();
  // The migration writes its own ledger row, so the ledger insert that follows it collides: its
  // SQL must be undone together with the failed insert.
  const colliding = {
    version: "9001",
    name: "colliding",
    sql: "create table colliding_table (id int);\n" +
      "insert into schema_migrations (version, name, checksum) values ('9001', 'x', 'y');",
  };
  await withDatabase(async (_db, sql) => {
    await migrate(sql, migrations);
    await assert.rejects(migrate(sql, [...migrations, colliding]));
    assert.equal(await tableExists(sql, "colliding_table"), false, "the migration left nothing");
    assert.ok(!(await appliedVersions(sql)).includes("9001"));
  });
});

Deno.test({
  name: "migrations that share a version are refused before any of them is applied",
  // Regression: two files with one version once applied the first, then failed on the second
  // with a raw unique-violation error.
  async fn() {
    const migrations = await readMigrations();
    const a = { version: "9001", name: "a", sql: "create table a_table (id int)" };
    const b = { version: "9001", name: "b", sql: "create table b_table (id int)" };
    await withDatabase(async (_db, sql) => {
      await migrate(sql, migrations);
      await assert.rejects(migrate(sql, [...migrations, a, b]), (err: unknown) => {
        assert.ok(err instanceof MigrationError, `expected a MigrationError, got ${err}`);
        assert.match(err.message, /9001/);
        return true;
      });
      assert.equal(await tableExists(sql, "a_table"), false);
      assert.ok(!(await appliedVersions(sql)).includes("9001"));
    });
  },
});
