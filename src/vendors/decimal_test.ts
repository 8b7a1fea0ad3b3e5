// Amounts as decimal text, signed by the transaction's direction.
import assert from "node:assert/strict";
import { signedAmount } from "./decimal.ts";

Deno.test("amounts are decimal text signed by direction", () => {
  assert.equal(signedAmount(12.5, "debit"), "-12.5");
  assert.equal(signedAmount(-12.5, "credit"), "12.5");
  assert.equal(signedAmount("0.10", "debit"), "-0.1");
  assert.equal(signedAmount(0, "debit"), "0", "no negative zero");
  assert.equal(signedAmount(1e-7, "credit"), "0.0000001");
  assert.equal(signedAmount(1e21, "debit"), "-1000000000000000000000");
  assert.throws(() => signedAmount("1" + "0".repeat(400), "credit"), RangeError);
});
