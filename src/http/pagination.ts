// Opaque keyset cursors for the newest-first lists: base64url of the last row's (createdAt, id).
import { AppError } from "../lib/app_error.ts";
import type { Position } from "../lib/position.ts";
import { isUuid } from "../lib/uuid.ts";

/** The times a cursor may hold: years 1 to 9999, which Postgres reads back (it has no year 0). */
const EARLIEST = Date.parse("0001-01-01T00:00:00.000Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");

export function encodeCursor(position: Position): string {
  const json = JSON.stringify({ t: position.createdAt.toISOString(), i: position.id });
  return new TextEncoder().encode(json).toBase64({ alphabet: "base64url", omitPadding: true });
}

/** Reads a cursor given back by a client; anything not made by `encodeCursor` is a 400. */
export function decodeCursor(cursor: string): Position {
  try {
    const bytes = Uint8Array.fromBase64(cursor, { alphabet: "base64url" });
    const value = JSON.parse(new TextDecoder().decode(bytes));
    const createdAt = new Date(value.t);
    const time = createdAt.getTime();
    if (
      typeof value.t === "string" && time >= EARLIEST && time <= LATEST &&
      typeof value.i === "string" && isUuid(value.i)
    ) {
      return { createdAt, id: value.i };
    }
  } catch {
    // fall through to the 400
  }
  throw AppError.invalid(
    [{ field: "cursor", message: "is not a cursor returned by this API" }],
    "invalid_pagination",
  );
}

/** The position a page starts after: none without a cursor. */
export function afterCursor(cursor: string | undefined): Position | undefined {
  return cursor === undefined ? undefined : decodeCursor(cursor);
}

/** Shapes a page from up to `limit + 1` rows fetched after the cursor. */
export function toPage<Row extends Position, Item>(
  rows: Row[],
  limit: number,
  toItem: (row: Row) => Item,
) {
  const hasMore = rows.length > limit;
  const items = rows.slice(0, limit);
  return {
    items: items.map(toItem),
    nextCursor: hasMore ? encodeCursor(items[items.length - 1]) : null,
    limit,
    hasMore,
  };
}
