// `deno task keys:rewrap`: re-seals every credential under the primary key of MATCHER_SEAL_KEYS.
import { loadConfig } from "../src/config/load.ts";
import { rewrapCredentials } from "../src/connections/rewrap.service.ts";
import { createKeyRing } from "../src/crypto/seal.ts";
import { openDatabase } from "../src/db/open.ts";
import { jsonLogger } from "../src/lib/logger.ts";

const logger = jsonLogger((line) => console.error(line));
const config = loadConfig(logger);
const db = await openDatabase(config, logger);
try {
  const ring = await createKeyRing(config.sealKeys);
  const { examined, rewrapped } = await rewrapCredentials(db.sql, ring);
  console.log(
    `rewrapped ${rewrapped} of ${examined} credentials under key "${ring.primaryId}"`,
  );
} finally {
  await db.close();
}
