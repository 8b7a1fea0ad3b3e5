// Feed cursors: what encodeFeedCursor makes reads back; anything else is the pagination 400.
import assert from "node:assert/strict";
import { AppError } from "../lib/app_error.ts";
import { cursorBefore, decodeFeedCursor, encodeFeedCursor, MAX_SEQ } from "./feed_cursor.ts";

const b64 = (text: string) =>
  new TextEncoder().encode(text).toBase64({ alphabet: "base64url", omitPadding: true });

Deno.test("a feed cursor reads back the position it was made from", () => {
  for (
    const position of [
      { xid: "0", seq: "0" },
      { xid: "757", seq: "1" },
      { xid: "18446744073709551615", seq: String(MAX_SEQ) },
    ]
  ) {
    assert.deepEqual(decodeFeedCursor(encodeFeedCursor(position)), position);
  }
});

Deno.test("anything but a feed cursor is a 400 naming `after`", () => {
  const listCursor = b64(JSON.stringify({ t: "2026-01-01T00:00:00.000Z", i: crypto.randomUUID() }));
  for (
    const bad of [
      "",
      "not base64 !",
      listCursor,
      b64("{}"),
      b64(JSON.stringify({ x: 1, s: 2 })),
      b64(JSON.stringify({ x: "-1", s: "2" })),
      b64(JSON.stringify({ x: "01", s: "2" })),
      b64(JSON.stringify({ x: "1e3", s: "2" })),
      b64(JSON.stringify({ x: "18446744073709551616", s: "2" })),
      b64(JSON.stringify({ x: "1", s: "9223372036854775808" })),
      b64(JSON.stringify({ x: "1", s: "2", extra: true })),
      b64("null"),
    ]
  ) {
    assert.throws(() => decodeFeedCursor(bad), (err: unknown) => {
      assert.ok(err instanceof AppError, bad);
      assert.equal(err.kind, "invalid_pagination");
      assert.equal(err.options.fields?.[0].field, "after");
      return true;
    });
  }
});

Deno.test("cursorBefore a horizon is after every change of the transactions below it", () => {
  assert.deepEqual(decodeFeedCursor(cursorBefore("1000")), { xid: "999", seq: String(MAX_SEQ) });
  assert.deepEqual(decodeFeedCursor(cursorBefore("0")), { xid: "0", seq: String(MAX_SEQ) });
});
