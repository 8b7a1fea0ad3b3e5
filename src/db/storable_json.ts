// What Postgres refuses in text and jsonb (U+0000, lone UTF-16 surrogates), taken out of JSON values.

/** `\u0000`, or a `\uD800`-`\uDFFF` escape: JSON.stringify writes both only this way. */
const UNSTORABLE_ESCAPE = /\\u(0000|d[89a-f])/i;

/** True when JSON text may hold something Postgres refuses (so `storable` is worth running). */
export const mayBeUnstorable = (json: string) => UNSTORABLE_ESCAPE.test(json);

/** The text without NUL and each lone surrogate made U+FFFD; the same string if it has neither. */
export const storableText = (text: string) =>
  text.isWellFormed() && !text.includes("\0") ? text : text.replaceAll("\0", "").toWellFormed();

/**
 * A JSON.parse reviver or JSON.stringify replacer that makes strings and object keys storable.
 * Neither NUL nor a lone surrogate carries meaning in a vendor's payload, so both go quietly.
 */
export function storable(_key: string, value: unknown): unknown {
  if (typeof value === "string") return storableText(value);
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const entries = Object.entries(value);
  if (entries.every(([key]) => storableText(key) === key)) return value;
  return Object.fromEntries(entries.map(([key, v]) => [storableText(key), v]));
}

/**
 * `value` as JSON text Postgres stores: a stray NUL is dropped and a lone surrogate becomes
 * U+FFFD, rather than failing the statement (and whatever retries it) forever.
 */
export function storableJsonText(value: unknown): string {
  const text = JSON.stringify(value);
  return mayBeUnstorable(text) ? JSON.stringify(value, storable) : text;
}
