// Amounts as decimal text, signed by the transaction's direction rather than the vendor's sign.

/** `value` as plain decimal text (no exponent), without its sign. */
function unsigned(value: number | string): string {
  const n = Math.abs(Number(value));
  if (!Number.isFinite(n)) throw new RangeError("amount is not a finite number");
  const text = String(n);
  if (!text.includes("e")) return text;
  // Exponent form: at or above 1e21 a double is a whole number; below 1e-6, 12 places suffice.
  return n >= 1 ? BigInt(n).toString() : n.toFixed(12).replace(/\.?0+$/, "");
}

/** The amount, negative for money leaving the account. */
export function signedAmount(value: number | string, direction: "credit" | "debit"): string {
  const text = unsigned(value);
  return direction === "debit" && Number(text) !== 0 ? `-${text}` : text;
}
