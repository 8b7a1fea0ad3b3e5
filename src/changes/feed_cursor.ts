// Change feed cursors: base64url of a position (writer's transaction id, change number).
import { AppError } from "../lib/app_error.ts";

/**
 * Where a change sits in the feed: the id of the transaction that wrote it (xid8, as decimal
 * text) and the number it drew there. Feed order is `(xid, seq)`.
 */
export type FeedPosition = { xid: string; seq: string };

/** The largest xid8 and bigint: a cursor naming either beyond is no cursor this API made. */
const MAX_XID = 18446744073709551615n;
export const MAX_SEQ = 9223372036854775807n;

export function encodeFeedCursor(position: FeedPosition): string {
  const json = JSON.stringify({ x: position.xid, s: position.seq });
  return new TextEncoder().encode(json).toBase64({ alphabet: "base64url", omitPadding: true });
}

const DIGITS = /^(0|[1-9][0-9]{0,19})$/;

/** Reads an `after` given back by a client; anything not made by `encodeFeedCursor` is a 400. */
export function decodeFeedCursor(cursor: string): FeedPosition {
  try {
    const bytes = Uint8Array.fromBase64(cursor, { alphabet: "base64url" });
    const value = JSON.parse(new TextDecoder().decode(bytes));
    if (
      typeof value?.x === "string" && DIGITS.test(value.x) && BigInt(value.x) <= MAX_XID &&
      typeof value.s === "string" && DIGITS.test(value.s) && BigInt(value.s) <= MAX_SEQ &&
      Object.keys(value).length === 2
    ) {
      return { xid: value.x, seq: value.s };
    }
  } catch {
    // fall through to the 400
  }
  throw AppError.invalid(
    [{ field: "after", message: "is not a cursor of the change feed" }],
    "invalid_pagination",
  );
}

/**
 * The cursor just before every change written by a transaction at or after `horizon` (an xid8):
 * after every change of the transactions below it.
 */
export function cursorBefore(horizon: string): string {
  const below = BigInt(horizon) - 1n;
  return encodeFeedCursor({ xid: String(below < 0n ? 0n : below), seq: String(MAX_SEQ) });
}
