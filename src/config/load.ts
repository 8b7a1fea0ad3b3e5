// Reads the process environment once into a Config, generating development secrets when needed.
import type { Logger } from "../lib/logger.ts";
import { type Config, ConfigError, parseConfig } from "./config.ts";
import { loadDevSecrets } from "./dev_secrets.ts";

/** The Config of this process; on a configuration problem it prints every problem and exits 1. */
export function loadConfig(logger: Logger): Config {
  try {
    return parseConfig(
      Deno.env.toObject(),
      (dataDir) => loadDevSecrets(dataDir, (msg) => logger.warn({ msg })),
    );
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    Deno.exit(1);
  }
}
