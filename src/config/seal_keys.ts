// The seal key ring as MATCHER_SEAL_KEYS writes it: `keyId:base64key,...`, the first key primary.

import type { SealKey } from "../crypto/seal.ts";

export type { SealKey };

/** Base64 in the standard or the url alphabet, padding optional; anything else is refused. */
function decodeBase64(text: string): Uint8Array | undefined {
  const alphabet = /^[A-Za-z0-9+/]*={0,2}$/.test(text)
    ? "base64"
    : /^[A-Za-z0-9_-]*={0,2}$/.test(text)
    ? "base64url"
    : undefined;
  if (!alphabet) return undefined; // e.g. whitespace, which fromBase64 would skip
  try {
    return Uint8Array.fromBase64(text, { alphabet });
  } catch {
    return undefined;
  }
}

/** `keyId:base64key,...`, each key 32 bytes; the first is the primary. Never echoes a key. */
export function parseSealKeys(text: string, problems: string[]): SealKey[] {
  const keys: SealKey[] = [];
  for (const [i, entry] of text.split(",").map((e) => e.trim()).entries()) {
    const at = entry.indexOf(":");
    const id = entry.slice(0, at);
    if (at < 1 || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
      problems.push(
        `MATCHER_SEAL_KEYS entry ${i + 1} must be keyId:base64key (keyId: 1-32 of A-Z a-z 0-9 _ -)`,
      );
      continue;
    }
    const key = decodeBase64(entry.slice(at + 1));
    if (!key || key.length !== 32) {
      problems.push(`MATCHER_SEAL_KEYS key "${id}" must be 32 bytes in base64 (AES-256)`);
      continue;
    }
    if (keys.some((k) => k.id === id)) problems.push(`MATCHER_SEAL_KEYS repeats key id "${id}"`);
    keys.push({ id, key });
  }
  return keys;
}
