// Comparing a presented secret with the configured one without leaking, through timing, where or
// whether their lengths differ.

const encoder = new TextEncoder();

/**
 * True when `given` equals `expected`. Both are hashed with SHA-256 first, so the comparison always
 * walks 32 bytes, and it looks at every byte instead of stopping at the first difference.
 */
export async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all(
    [given, expected].map(async (s) =>
      new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(s)))
    ),
  );
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}
