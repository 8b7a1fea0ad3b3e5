// The guide's "Test a connection": a live check with the stored credential, rate-limited.
import type { components } from "../../generated/types.ts";
import type { KeyRing } from "../crypto/seal.ts";
import type { Sql } from "../db/pool.ts";
import { AppError } from "../lib/app_error.ts";
import type { Logger } from "../lib/logger.ts";
import type { RateLimiter } from "../lib/rate_limit.ts";
import type { Aggregators } from "../vendors/clients.ts";
import { VendorError } from "../vendors/errors.ts";
import { unsealCredential } from "./credential.ts";
import { requireSealedConnection } from "./connections.service.ts";

type Schemas = components["schemas"];

export interface LiveCheckDeps {
  sql: Sql;
  keyRing: KeyRing;
  aggregators: Aggregators;
  testLimiter: RateLimiter;
  logger: Logger;
}

/**
 * Checks the connection `(vendor, configName)` against its vendor. A failing credential or account
 * is a result (`healthy: false` with a reason), not an error; a missing connection is a 404 and
 * more than the allowed checks a minute on one connection is a 429.
 */
export async function testConnection(
  deps: LiveCheckDeps,
  tenantId: string,
  body: Schemas["TestAggregatorConnectionRequest"],
): Promise<Schemas["ConnectionTestResult"]> {
  const { row, sealed } = await requireSealedConnection(deps.sql, tenantId, body);

  const slot = await deps.testLimiter(["connection_tests", tenantId, row.id]);
  if (!slot.allowed) {
    throw new AppError("too_many_requests", "Too many tests of this connection; try again later.", {
      retryAfterSeconds: slot.retryAfterSeconds,
    });
  }

  const credential = await unsealCredential(deps.keyRing, {
    tenantId,
    connectionId: row.id,
    vendor: row.vendor,
  }, sealed);
  const client = deps.aggregators.client(row.vendor, row.baseUrl, credential);
  const result: Schemas["ConnectionTestResult"] = {
    vendor: row.vendor,
    configName: row.configName,
    healthy: true,
    latencyMs: 0,
  };
  const started = performance.now();
  try {
    await client.check(row.accountRef);
  } catch (err) {
    if (!(err instanceof VendorError)) throw err;
    result.healthy = false;
    result.reason = err.reason; // from the fixed list: the vendor's own message never leaves
    deps.logger.info({
      msg: "connection test failed",
      connectionId: row.id,
      vendor: row.vendor,
      reason: result.reason,
      error: { message: err.message, ...err.details },
    });
  }
  result.latencyMs = Math.round(performance.now() - started);
  return result;
}
