// Development-only secrets, generated once into the data dir so restarts keep tokens and credentials.
import { join } from "node:path";
import type { DevSecrets } from "./config.ts";

const FILE = "dev-secrets.json";

/**
 * Reads `<dataDir>/dev-secrets.json`, creating it (mode 0600) with a random JWT secret and seal
 * key on first use. `warn` is told either way: these keys are for development only.
 */
export function loadDevSecrets(dataDir: string, warn: (message: string) => void): DevSecrets {
  const path = join(dataDir, FILE);
  try {
    const secrets = JSON.parse(Deno.readTextFileSync(path)) as DevSecrets;
    warn(`using development secrets from ${path}; never use them in production`);
    return secrets;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n)).toBase64();
  const secrets: DevSecrets = { jwtSecret: random(48), sealKeys: `dev1:${random(32)}` };
  Deno.mkdirSync(dataDir, { recursive: true });
  try {
    // createNew: when two processes start together, the second reads what the first wrote.
    Deno.writeTextFileSync(path, JSON.stringify(secrets, null, 2) + "\n", {
      mode: 0o600,
      createNew: true,
    });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return loadDevSecrets(dataDir, warn);
    throw err;
  }
  warn(`generated development secrets into ${path}; never use them in production`);
  return secrets;
}
