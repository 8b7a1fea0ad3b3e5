// Bearer JWT verification with jose: the verified token is the only source of the tenant.
import type { MiddlewareHandler } from "hono";
import { type JWTPayload, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { Config } from "../config/config.ts";
import { AppError } from "../lib/app_error.ts";
import type { Actor } from "../lib/caller.ts";
import { isUuid } from "../lib/uuid.ts";
import type { AppEnv } from "./env.ts";
import { boundedRemoteJwks, DEFAULT_JWKS_RETRY_SECONDS, JwksUnavailable } from "./jwks.ts";

const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"];
const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];

/** What a verified token says: its tenant, and who it names (the audit trail's actor). */
export type Principal = { tenantId: string; actor: Actor };

export type TenantVerifier = (token: string) => Promise<Principal>;

/** Seconds of clock skew allowed between the identity provider and us. */
const CLOCK_TOLERANCE_SECONDS = 30;

function unauthorized(message: string): AppError {
  return new AppError("unauthenticated", message, {
    headers: { "WWW-Authenticate": 'Bearer realm="matcher"' },
  });
}

/** Builds the verifier for the configured secret or JWKS; it answers the token's tenant and actor. */
export function createTenantVerifier(auth: Config["auth"]): TenantVerifier {
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (auth.jwksUrl) {
    key = boundedRemoteJwks(auth.jwksUrl, {
      retrySeconds: auth.jwksRetrySeconds ?? DEFAULT_JWKS_RETRY_SECONDS,
    });
    algorithms = ASYMMETRIC_ALGORITHMS;
  } else if (auth.secret) {
    key = auth.secret;
    algorithms = HMAC_ALGORITHMS;
  } else {
    throw new Error("auth needs AUTH_JWT_SECRET or AUTH_JWKS_URL");
  }
  return async function verifyTenant(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms,
        requiredClaims: ["exp"],
        issuer: auth.issuer,
        audience: auth.audience,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        maxTokenAge: auth.maxAgeSeconds, // when set, jose also requires iat
      }));
    } catch (err) {
      if (err instanceof JwksUnavailable) {
        throw new AppError("unavailable", "The identity provider's keys are unavailable.", {
          retryAfterSeconds: err.retryAfterSeconds,
        });
      }
      throw unauthorized("The bearer token is invalid or expired.");
    }
    // jose compares iat with the clock only under maxTokenAge. A token claiming to be issued later
    // than now is refused either way: no honest issuer mints one, and iat is what an age limit
    // counts from.
    if (
      typeof payload.iat === "number" && payload.iat > Date.now() / 1000 + CLOCK_TOLERANCE_SECONDS
    ) {
      throw unauthorized("The bearer token is invalid or expired.");
    }
    const tenant = payload.tenant_id ?? payload.tenantId;
    if (typeof tenant !== "string" || !isUuid(tenant)) {
      throw unauthorized("The bearer token has no valid tenant_id claim.");
    }
    // RFC 7519 makes both StringOrURI; jose checks their values only when told which to expect.
    // A token whose actor cannot be recorded as it says is refused rather than recorded as nobody.
    const { sub, iss } = payload;
    if (
      (sub !== undefined && typeof sub !== "string") ||
      (iss !== undefined && typeof iss !== "string")
    ) {
      throw unauthorized("The bearer token's sub and iss claims must be strings.");
    }
    return { tenantId: tenant.toLowerCase(), actor: { subject: sub ?? null, issuer: iss ?? null } };
  };
}

/** Requires `Authorization: Bearer <JWT>` and sets `tenantId` and `actor`. */
export function requireTenant(verify: TenantVerifier): MiddlewareHandler<AppEnv> {
  return async function auth(c, next) {
    const header = c.req.header("Authorization") ?? "";
    const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim());
    if (!match) throw unauthorized("A bearer token is required.");
    const principal = await verify(match[1]);
    c.set("tenantId", principal.tenantId);
    c.set("actor", principal.actor);
    await next();
  };
}
