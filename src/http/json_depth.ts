// How deeply JSON text nests, found by one pass over the text before anything parses it.

/**
 * True when `text` opens more than `maxDepth` arrays and objects inside one another. A linear scan
 * of the characters (brackets inside strings do not count), so a hostile body costs O(n) and no
 * recursion: JSON.parse copes with 20,000 levels, but JSON.stringify, which the driver runs to
 * store a payload as jsonb, overflows the stack on them.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash: the next character is escaped, whatever it is
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
