// `deno task token --tenant <uuid> [--ttl 1h]`: prints a bearer token signed with the configured secret.
import { SignJWT } from "jose";
import { parseArgs } from "node:util";
import { ConfigError, parseConfig } from "../src/config/config.ts";
import { loadDevSecrets } from "../src/config/dev_secrets.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function fail(message: string): never {
  console.error(`token: ${message}`);
  Deno.exit(2);
}

const { values } = parseArgs({
  args: Deno.args,
  options: { tenant: { type: "string" }, ttl: { type: "string", default: "1h" } },
});
if (!values.tenant || !UUID.test(values.tenant)) fail("--tenant <uuid> is required");
if (!/^\d+[smhd]$/.test(values.ttl)) fail("--ttl must look like 30m, 1h or 7d");

let config;
try {
  const dataDir = Deno.env.get("MATCHER_DATA_DIR") || ".matcher";
  config = parseConfig(
    Deno.env.toObject(),
    () => loadDevSecrets(dataDir, (msg) => console.error(msg)),
  );
} catch (err) {
  fail(err instanceof ConfigError ? err.message : String(err));
}
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
