// `deno task token --tenant <uuid> [--ttl 1h]`: prints a bearer token signed with the configured secret.
import { SignJWT } from "jose";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/load.ts";
import { jsonLogger } from "../src/lib/logger.ts";
import { isUuid } from "../src/lib/uuid.ts";

function fail(message: string): never {
  console.error(`token: ${message}`);
  Deno.exit(2);
}

const { values } = parseArgs({
  args: Deno.args,
  options: { tenant: { type: "string" }, ttl: { type: "string", default: "1h" } },
});
if (!values.tenant || !isUuid(values.tenant)) fail("--tenant <uuid> is required");
if (!/^\d+[smhd]$/.test(values.ttl)) fail("--ttl must look like 30m, 1h or 7d");

// Warnings go to standard error so that standard output is the token alone.
const config = loadConfig(jsonLogger((line) => console.error(line)));
if (!config.auth.secret) {
  fail("AUTH_JWKS_URL is configured: tokens come from your identity provider");
}

let jwt = new SignJWT({ tenant_id: values.tenant.toLowerCase() })
  .setProtectedHeader({ alg: "HS256", typ: "JWT" })
  .setIssuedAt()
  .setExpirationTime(values.ttl);
if (config.auth.issuer) jwt = jwt.setIssuer(config.auth.issuer);
if (config.auth.audience) jwt = jwt.setAudience(config.auth.audience);
console.log(await jwt.sign(config.auth.secret));
