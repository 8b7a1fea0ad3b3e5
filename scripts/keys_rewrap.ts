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
  const { examined, rewrapped, unreadable } = await rewrapCredentials(db.sql, ring);
  for (const id of unreadable) {
    console.error(`could not open the credential of connection ${id}; left as it is`);
  }
  console.log(
    `rewrapped ${rewrapped} of ${examined} credentials under key "${ring.primaryId}"`,
  );
  if (unreadable.length) {
    // Their old key must not be retired yet: restore it, or send those credentials again.
    console.error(
      `${unreadable.length} credential${unreadable.length === 1 ? "" : "s"} could not be ` +
        "opened with MATCHER_SEAL_KEYS (listed above): keep their key, or send each credential again",
    );
    Deno.exitCode = 1;
  }
} finally {
  await db.close();
}
