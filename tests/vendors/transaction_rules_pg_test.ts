// The transaction rules against Postgres itself: whatever they accept the columns store, and what
// the attack sent, which Postgres refuses, they refuse too.
import assert from "node:assert/strict";
import postgres from "postgres";
import { bookingDate, isAmount, isInstant } from "../../src/vendors/transaction_rules.ts";
import { createTestDatabase } from "../support/database.ts";

const DATES = [
  "2024-12-09",
  "2024-02-29",
  "0001-01-01",
  "9999-12-31",
  "2024-12-09T21:56:58.601Z",
  "2024-13-45",
  "2023-02-29",
  "0000-01-01",
  "10000-01-01",
];
const INSTANTS = [
  "2024-12-09T21:56:58.601Z",
  "2019-11-28T10:27:44.813123Z",
  "2024-12-09T21:56:58-03:00",
  "2024-12-09T21:56:58+0530",
  "0001-01-01T00:00:00Z",
  "9999-12-31T23:59:59.999Z",
  "not-a-date",
  "0000-01-01T00:00:00Z",
  "0001-01-01T00:00:00+01:00",
  "2024-02-30T00:00:00Z",
];
const AMOUNTS = ["12.50", "-0.01", "123456789012345678.123456789012", "1e400", "12,50", "NaN"];

/** Whether Postgres takes `value` as a `type` (each in its own statement). */
async function postgresTakes(sql: postgres.Sql, value: string, type: string): Promise<boolean> {
  try {
    await sql.unsafe(`select $1::text::${type}`, [value]);
    return true;
  } catch (err) {
    assert.match(String((err as { code?: string }).code), /^22/, `${value}: ${err}`);
    return false;
  }
}

Deno.test("every value the rules accept, Postgres stores; what Postgres refuses, they refuse", async () => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    for (const text of DATES) {
      const date = bookingDate(text);
      if (date !== undefined) assert.ok(await postgresTakes(sql, date, "date"), text);
      if (!(await postgresTakes(sql, text.slice(0, 10), "date"))) {
        assert.equal(date, undefined, text);
      }
    }
    for (const text of INSTANTS) {
      const takes = await postgresTakes(sql, text, "timestamptz");
      if (isInstant(text)) assert.ok(takes, text);
      if (!takes) assert.equal(isInstant(text), false, text);
    }
    for (const text of AMOUNTS) {
      if (isAmount(text)) assert.ok(await postgresTakes(sql, text, "numeric"), text);
    }
    // The attack's values: refused by both.
    assert.equal(await postgresTakes(sql, "2024-13-45", "date"), false);
    assert.equal(await postgresTakes(sql, "0000-01-01T00:00:00Z", "timestamptz"), false);
    assert.equal(await postgresTakes(sql, "not-a-date", "timestamptz"), false);
  } finally {
    await sql.end();
    await db.drop();
  }
});
