// The rules a vendor transaction's values must meet to be stored; a row that breaks one is skipped.
//
// Postgres refuses a date or timestamp outside its calendar (`2024-13-45`, year 0: SQLSTATE 22008,
// 22007), and one refused row fails its whole page, so every page of the walk, forever. These
// rules accept exactly what the `transactions` columns store, and nothing the database would
// refuse: kept apart from the clients so that parsing moved into Postgres can apply the same ones.

/** Why a vendor row was not stored; the metric's `reason` label and the pull's record. */
export type SkipReason = "invalid_shape" | "invalid_date" | "invalid_created_at" | "invalid_amount";

export const SKIP_REASONS: readonly SkipReason[] = [
  "invalid_shape",
  "invalid_date",
  "invalid_created_at",
  "invalid_amount",
];

/** A vendor row that was not stored: its vendor id (when it has a usable one), account, reason. */
export interface SkippedTransaction {
  id: string | null;
  accountId: string | null;
  reason: SkipReason;
}

/** Longest vendor id kept in a skipped record; a longer "id" is no id. */
const MAX_ID_LENGTH = 128;

/** The vendor id of a raw row, if it has one worth naming (a short string); never another value. */
export function skippedId(row: unknown): string | null {
  const id = (row as { id?: unknown } | null)?.id;
  return typeof id === "string" && id.length > 0 && id.length <= MAX_ID_LENGTH ? id : null;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** True when year, month and day name a day of the proleptic Gregorian calendar, years 1..9999. */
function isDay(year: number, month: number, day: number): boolean {
  return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 &&
    day <= daysIn(year, month);
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$/s;

/**
 * The booking date `YYYY-MM-DD` that `text` starts with (a bare date, or the date of a timestamp,
 * as Pluggy sends it), when it is a real day of years 1..9999; undefined otherwise.
 */
export function bookingDate(text: string): string | undefined {
  const m = DATE.exec(text);
  if (!m || !isDay(Number(m[1]), Number(m[2]), Number(m[3]))) return undefined;
  return text.slice(0, 10);
}

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;
/** The first and last instants whose UTC date lies in years 1..9999. */
const FIRST_INSTANT = Date.parse("0001-01-01T00:00:00Z");
const LAST_INSTANT = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * True when `text` is an ISO 8601 date-time with an explicit offset (`Z` or `±HH[:MM]`) naming a
 * real instant whose UTC date lies in years 1..9999: what both Postgres and Date.parse read alike.
 * A time without an offset is refused: Postgres would read it in the session's time zone.
 */
export function isInstant(text: string): boolean {
  const m = INSTANT.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((v) => Number(v ?? 0));
  if (!isDay(year, month, day) || hour > 23 || minute > 59 || second > 59) return false;
  const offset = m[7].toUpperCase();
  if (offset !== "Z") {
    const digits = offset.slice(1).replace(":", "");
    const hours = Number(digits.slice(0, 2));
    const minutes = Number(digits.slice(2) || 0);
    if (hours > 15 || minutes > 59) return false;
  }
  // An offset moves the UTC date by a day at most: only years 1 and 9999 can leave the range.
  if (year > 1 && year < 9999) return true;
  const at = Date.parse(
    `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? "00"}${offsetText(offset)}`,
  );
  return Number.isFinite(at) && at >= FIRST_INSTANT && at <= LAST_INSTANT;
}

/** `offset` as Date.parse reads it (`Z` or `±HH:MM`). */
function offsetText(offset: string): string {
  if (offset === "Z") return "Z";
  const digits = offset.slice(1).replace(":", "");
  return `${offset[0]}${digits.slice(0, 2)}:${digits.slice(2) || "00"}`;
}

/** Decimal text of a size money can have: up to 18 integer and 12 fraction digits. */
const DECIMAL = /^-?\d{1,18}(\.\d{1,12})?$/;

/** True for a finite JSON number, or decimal text of a size money can have. */
export function isAmount(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  return typeof value === "string" && DECIMAL.test(value);
}
