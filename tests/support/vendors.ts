// Vendor clients pointed at fake vendors over real HTTP, through the real egress-checked fetch.
import assert from "node:assert/strict";
import { type Aggregators, createAggregators } from "../../src/vendors/clients.ts";
import { VendorError } from "../../src/vendors/errors.ts";
import { createVendorHttp, type VendorHttpOptions } from "../../src/vendors/vendor_http.ts";
import type { AggregatorClient, TransactionPage } from "../../src/vendors/aggregator.ts";

/** Aggregator clients allowed to reach `hosts` over http, with short test timeouts. */
export function fakeAggregators(
  hosts: string[],
  options: Partial<VendorHttpOptions> & { now?: () => number } = {},
): Aggregators {
  const { now, ...http } = options;
  return createAggregators(
    createVendorHttp({
      egress: { allowHosts: hosts, allowHttp: true },
      connectTimeoutMs: 1_000,
      timeoutMs: 2_000,
      maxResponseBytes: 8 * 1024 * 1024,
      ...http,
    }),
    now,
  );
}

/** Every page a client's page generator yields. */
export async function allPages(pages: AsyncGenerator<TransactionPage>): Promise<TransactionPage[]> {
  const out: TransactionPage[] = [];
  for await (const page of pages) out.push(page);
  return out;
}

/** The VendorError `work` fails with; fails the test if it succeeds or throws anything else. */
export async function vendorFailure(work: Promise<unknown>): Promise<VendorError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof VendorError, `expected a VendorError, got ${err}`);
    return err;
  }
  assert.fail("expected a VendorError");
}

/** Runs `check` and answers how it failed, as kind and reason. */
export async function checkFailure(client: AggregatorClient, accountRef: string) {
  const err = await vendorFailure(client.check(accountRef));
  return { kind: err.kind, reason: err.reason };
}
