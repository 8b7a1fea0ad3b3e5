// Where each element of a JSON page's `results` is in its UTF-8 bytes, found without parsing it.

/** The byte range `[start, end)` of one element. */
export type Slice = [start: number, end: number];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(b: Uint8Array, i: number): number {
  while (isSpace(b[i])) i++;
  return i;
}

/** The index just past the string whose opening quote is at `i`. */
function skipString(b: Uint8Array, i: number): number {
  for (i++; i < b.length; i++) {
    const c = b[i];
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) i++;
  }
  throw new SyntaxError("unterminated string");
}

/** The index just past the value that starts at `i`. */
function skipValue(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i);
  if (c !== OPEN_OBJECT && c !== OPEN_ARRAY) {
    // A number, true, false or null: it ends at the next delimiter.
    while (
      i < b.length && b[i] !== COMMA && b[i] !== CLOSE_OBJECT && b[i] !== CLOSE_ARRAY &&
      !isSpace(b[i])
    ) i++;
    return i;
  }
  let depth = 0;
  for (;;) {
    const d = b[i];
    if (d === QUOTE) {
      i = skipString(b, i);
      continue;
    }
    if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
    else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) {
      if (--depth === 0) return i + 1;
    } else if (d === undefined) throw new SyntaxError("unterminated value");
    i++;
  }
}

/**
 * The byte range of each element of the array that the top-level object `bytes` holds under
 * `key`: of its last such member, the one JSON.parse and Postgres both keep. `bytes` must be JSON
 * that JSON.parse accepted; answers null when it is not an object with such an array written
 * with that key's plain spelling (a key spelled with escapes, or a value of another kind), so that
 * the caller falls back to what it did without the ranges.
 */
export function arrayElementSlices(bytes: Uint8Array, key: string): Slice[] | null {
  const wanted = new TextEncoder().encode(JSON.stringify(key));
  let found: Slice[] | null = null;
  try {
    let i = skipSpace(bytes, 0);
    if (bytes[i] !== OPEN_OBJECT) return null;
    i = skipSpace(bytes, i + 1);
    while (bytes[i] === QUOTE) {
      const keyEnd = skipString(bytes, i);
      const matches = keyEnd - i === wanted.length &&
        wanted.every((byte, k) => bytes[i + k] === byte);
      i = skipSpace(bytes, keyEnd);
      if (bytes[i] !== COLON) return null;
      i = skipSpace(bytes, i + 1);
      if (matches) {
        if (bytes[i] !== OPEN_ARRAY) return null;
        found = [];
        i = skipSpace(bytes, i + 1);
        while (bytes[i] !== CLOSE_ARRAY) {
          const end = skipValue(bytes, i);
          found.push([i, end]);
          i = skipSpace(bytes, end);
          if (bytes[i] === COMMA) i = skipSpace(bytes, i + 1);
          else if (bytes[i] !== CLOSE_ARRAY) return null;
        }
        i++;
      } else {
        i = skipValue(bytes, i);
      }
      i = skipSpace(bytes, i);
      if (bytes[i] === COMMA) i = skipSpace(bytes, i + 1);
    }
    return bytes[i] === CLOSE_OBJECT ? found : null;
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw err;
  }
}
