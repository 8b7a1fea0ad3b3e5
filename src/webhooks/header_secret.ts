// A webhook token's second factor: a random secret the vendor sends in a header with every
// delivery. Only its SHA-256 is kept; a delivery's value is compared with it in constant time.
import { createHash } from "node:crypto";
import type { Vendor } from "../vendors/vendors.ts";

/**
 * The header each vendor can send with every delivery: Pluggy any custom header given to
 * `POST /webhooks` (`headers`), Belvo the `Authorization` value of its webhook settings.
 */
export const SECRET_HEADER: Readonly<Record<Vendor, string>> = {
  pluggy: "X-Matcher-Webhook-Secret",
  belvo: "Authorization",
};

/** "mwhs_" + base64url(32 random bytes), no padding. */
export function newHeaderSecret(): string {
  return "mwhs_" +
    crypto.getRandomValues(new Uint8Array(32)).toBase64({
      alphabet: "base64url",
      omitPadding: true,
    });
}

/** Lowercase hex SHA-256 of the secret: what the token's record keeps. */
export function hashHeaderSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** The header to configure with the vendor, shown once: `Authorization` takes a scheme. */
export function headerToConfigure(vendor: Vendor, secret: string): { name: string; value: string } {
  const name = SECRET_HEADER[vendor];
  return { name, value: name === "Authorization" ? `Bearer ${secret}` : secret };
}

/** Hashed in place of a missing header, so that a missing and a wrong one take the same time. */
const NOTHING = "";

/**
 * Whether a delivery's header value carries the secret whose hash is `storedHash`. A `Bearer `
 * before it is allowed, as the Authorization value may or may not get one in the vendor's
 * settings. Both sides are hex SHA-256 hashes, compared without an early exit (as text: a Buffer
 * digest costs twice the hash on Deno, on every delivery).
 */
export function headerSecretMatches(value: string | undefined, storedHash: string): boolean {
  const secret = value?.trim().replace(/^bearer\s+/i, "") || undefined;
  const given = createHash("sha256").update(secret ?? NOTHING).digest("hex");
  let differ = given.length ^ storedHash.length;
  for (let i = 0; i < given.length; i++) {
    differ |= given.charCodeAt(i) ^ (storedHash.charCodeAt(i) | 0);
  }
  return differ === 0 && secret !== undefined;
}
