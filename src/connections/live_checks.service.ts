// The guide's "Test a connection": a live check with the stored credential, rate-limited.
import type { components } from "../../generated/types.ts";
import { type AuditDeps, newAudit, recordOutcome } from "../audit/audit.service.ts";
import { type KeyRing, SealError } from "../crypto/seal.ts";
import { AppError } from "../lib/app_error.ts";
import type { Caller } from "../lib/caller.ts";
import type { RateLimiter, RateWindow } from "../lib/rate_limit.ts";
import type { Aggregators } from "../vendors/clients.ts";
import { VendorError } from "../vendors/errors.ts";
import { unsealCredential } from "./credential.ts";
import { requireSealedConnection } from "./connections.service.ts";

type Schemas = components["schemas"];

/** With AuditDeps: every test run is recorded with its outcome. */
export interface LiveCheckDeps extends AuditDeps {
  keyRing: KeyRing;
  aggregators: Aggregators;
  rateLimiter: RateLimiter;
  /** Live tests allowed a minute: per connection, and per tenant over all its connections. */
  testLimits: { perConnection: number; perTenant: number };
}

const MINUTE_MS = 60_000;

/**
 * Checks the connection `(vendor, configName)` against its vendor. A failing credential or account
 * is a result (`healthy: false` with a reason), not an error, and so is a stored credential that
 * does not open (no vendor call then, and no test spent); a missing connection is a 404, and more
 * than the allowed checks a minute on one connection, or by one tenant, is a 429. A test that ran
 * (a result, healthy or not) is recorded in the audit trail with its outcome before it is answered.
 */
export async function testConnection(
  deps: LiveCheckDeps,
  caller: Caller,
  body: Schemas["TestAggregatorConnectionRequest"],
): Promise<Schemas["ConnectionTestResult"]> {
  const result = await runTest(deps, caller.tenantId, body);
  const { healthy, reason, latencyMs } = result.outcome;
  await recordOutcome(
    deps,
    newAudit(deps, caller, {
      action: "connection.tested",
      target: { type: "connection", id: result.connectionId },
      connectionId: result.connectionId,
      vendor: result.outcome.vendor,
      details: { healthy, ...(reason ? { reason } : {}), latencyMs },
    }),
  );
  return result.outcome;
}

async function runTest(
  deps: LiveCheckDeps,
  tenantId: string,
  body: Schemas["TestAggregatorConnectionRequest"],
): Promise<{ connectionId: string; outcome: Schemas["ConnectionTestResult"] }> {
  const { row, sealed } = await requireSealedConnection(deps.sql, tenantId, body);
  const result: Schemas["ConnectionTestResult"] = {
    vendor: row.vendor,
    configName: row.configName,
    healthy: true,
    latencyMs: 0,
  };

  let credential;
  try {
    credential = await unsealCredential(deps.keyRing, {
      tenantId,
      connectionId: row.id,
      vendor: row.vendor,
    }, sealed);
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    deps.logger.info({
      msg: "connection test failed",
      connectionId: row.id,
      vendor: row.vendor,
      reason: "credential_unreadable",
    });
    return {
      connectionId: row.id,
      outcome: { ...result, healthy: false, reason: "credential_unreadable" },
    };
  }

  await takeTestSlot(deps, tenantId, row.id);
  const client = deps.aggregators.client(row.vendor, row.baseUrl, credential);
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
  return { connectionId: row.id, outcome: result };
}

/**
 * Takes one test from the connection's allowance and the tenant's, or a 429. The tenant's count
 * outlives its connections, so deleting and creating a connection again never starts it afresh.
 */
async function takeTestSlot(deps: LiveCheckDeps, tenantId: string, connectionId: string) {
  const tenant: RateWindow = {
    key: ["connection_tests_by_tenant", tenantId],
    limit: deps.testLimits.perTenant,
    windowMs: MINUTE_MS,
  };
  const verdict = await deps.rateLimiter([
    {
      key: ["connection_tests", tenantId, connectionId],
      limit: deps.testLimits.perConnection,
      windowMs: MINUTE_MS,
    },
    tenant,
  ]);
  if (verdict.allowed) return;
  const message = verdict.window === tenant
    ? "Too many connection tests by this tenant; try again later."
    : "Too many tests of this connection; try again later.";
  throw new AppError("too_many_requests", message, {
    retryAfterSeconds: verdict.retryAfterSeconds,
  });
}
