// What a vendor transaction's date, timestamp and amount must be to be stored.
import assert from "node:assert/strict";
import { bookingDate, isAmount, isInstant, skippedId } from "./transaction_rules.ts";

Deno.test("a booking date is a real day of years 1..9999, bare or at the head of a timestamp", () => {
  for (
    const [text, date] of [
      ["2024-12-09", "2024-12-09"],
      ["2024-12-09T21:56:58.601Z", "2024-12-09"],
      ["2024-02-29", "2024-02-29"],
      ["2000-02-29", "2000-02-29"],
      ["0001-01-01", "0001-01-01"],
      ["9999-12-31", "9999-12-31"],
      ["2024-01-31 00:00:00", "2024-01-31"],
    ]
  ) {
    assert.equal(bookingDate(text), date, text);
  }
  for (
    const text of [
      "2024-13-45",
      "2024-00-10",
      "2024-04-31",
      "2023-02-29",
      "1900-02-29",
      "0000-01-01",
      "10000-01-01",
      "2024-1-1",
      "2024-01-01garbage",
      "20240101",
      "",
      "not-a-date",
    ]
  ) {
    assert.equal(bookingDate(text), undefined, text);
  }
});

Deno.test("a timestamp is a real instant with an offset, its UTC date in years 1..9999", () => {
  for (
    const text of [
      "2024-12-09T21:56:58.601Z",
      "2024-12-09T21:56:58Z",
      "2024-12-09T21:56Z",
      "2019-11-28T10:27:44.813123Z",
      "2024-12-09T21:56:58-03:00",
      "2024-12-09T21:56:58+0530",
      "2024-12-09T21:56:58-03",
      "2024-12-09 21:56:58+00:00",
      "0001-01-01T00:00:00Z",
      "9999-12-31T23:59:59.999Z",
      "0001-01-01T00:00:00-01:00",
    ]
  ) {
    assert.equal(isInstant(text), true, text);
  }
  for (
    const text of [
      "not-a-date",
      "0000-01-01T00:00:00Z",
      "0001-01-01T00:00:00+01:00", // the year 0 in UTC
      "9999-12-31T23:00:00-01:00", // the year 10000 in UTC
      "2024-13-01T00:00:00Z",
      "2024-02-30T00:00:00Z",
      "2024-01-01T24:00:00Z",
      "2024-01-01T23:60:00Z",
      "2024-01-01T23:59:60Z",
      "2024-01-01T00:00:00+16:00",
      "2024-01-01T00:00:00", // no offset: Postgres would read the session's time zone
      "2024-01-01",
      "2024-01-01T00:00:00.Z",
      "",
    ]
  ) {
    assert.equal(isInstant(text), false, text);
  }
});

Deno.test("an amount is a finite number or decimal text of a size money can have", () => {
  for (const value of [0, -12.5, 1e21, 0.1 + 0.2, "12.50", "-0.01", "123456789012345678"]) {
    assert.equal(isAmount(value), true, String(value));
  }
  for (
    const value of [
      Infinity,
      -Infinity,
      NaN,
      "1e3",
      "12,50",
      "",
      " 1",
      "1234567890123456789",
      "1.1234567890123",
      null,
      undefined,
      true,
      {},
    ]
  ) {
    assert.equal(isAmount(value), false, String(value));
  }
});

Deno.test("a skipped row is named by its id only when it has a short string one", () => {
  assert.equal(skippedId({ id: "tx-1", amount: "secret-ish" }), "tx-1");
  assert.equal(skippedId({ id: 7 }), null);
  assert.equal(skippedId({ id: "" }), null);
  assert.equal(skippedId({ id: "x".repeat(129) }), null);
  assert.equal(skippedId(null), null);
  assert.equal(skippedId("tx-1"), null);
});
