// The console's development sign-in: when it is offered, and the short-lived token it hands out.
import { SignJWT } from "jose";
import type { Config } from "../config/config.ts";

/** The tenant the development sign-in signs in as (documented in the README and the spec). */
export const DEV_TENANT_ID = "dede0000-0000-4000-8000-000000000001";

/** How long a development token lives. */
export const DEV_TOKEN_TTL_SECONDS = 3600;

/** What minting a development token needs: the HS secret and the claims the verifier checks. */
export interface DevSignIn {
  secret: Uint8Array;
  issuer?: string;
  audience?: string;
}

export interface DevSession {
  token: string;
  tenantId: string;
  expiresAt: string;
}

/**
 * The development sign-in of `config`, or undefined where there must be none: in production, and
 * wherever tokens come from an identity provider's JWKS rather than a secret this service holds.
 */
export function devSignInFor(config: Config): DevSignIn | undefined {
  if (config.env !== "development" || !config.auth.secret || config.auth.jwksUrl) return undefined;
  return { secret: config.auth.secret, issuer: config.auth.issuer, audience: config.auth.audience };
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * True when the request's `Host` names this machine or `MATCHER_PUBLIC_URL`'s host. Anything else
 * means a page on some other name reached the service, as DNS rebinding does to a local server,
 * and must not be handed a token.
 */
export function isOwnHost(host: string | undefined, publicUrl: string): boolean {
  if (!host) return false;
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return LOOPBACK_NAMES.has(hostname) || hostname.endsWith(".localhost") ||
    hostname === new URL(publicUrl).hostname;
}

/** A token for the development tenant, valid for DEV_TOKEN_TTL_SECONDS from `nowMs`. */
export async function mintDevSession(signIn: DevSignIn, nowMs: number): Promise<DevSession> {
  const issuedAt = Math.floor(nowMs / 1000);
  const expires = issuedAt + DEV_TOKEN_TTL_SECONDS;
  let jwt = new SignJWT({ tenant_id: DEV_TENANT_ID })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(issuedAt)
    .setExpirationTime(expires);
  if (signIn.issuer) jwt = jwt.setIssuer(signIn.issuer);
  if (signIn.audience) jwt = jwt.setAudience(signIn.audience);
  return {
    token: await jwt.sign(signIn.secret),
    tenantId: DEV_TENANT_ID,
    expiresAt: new Date(expires * 1000).toISOString(),
  };
}
