// Vendor clients pointed at fake vendors over real HTTP, through the real egress-checked fetch.
import assert from "node:assert/strict";
import { type Aggregators, createAggregators } from "../../src/vendors/clients.ts";
import { VendorError } from "../../src/vendors/errors.ts";
import { PageWalkError } from "../../src/vendors/page_walk.ts";
import { createVendorHttp, type VendorHttpOptions } from "../../src/vendors/vendor_http.ts";
import type { AggregatorClient, TransactionPage } from "../../src/vendors/aggregator.ts";

/** Aggregator clients allowed to reach `hosts` over http, with short test timeouts. */
export function fakeAggregators(
  hosts: string[],
  options: Partial<VendorHttpOptions> & { now?: () => number; maxPagesPerWalk?: number } = {},
): Aggregators {
  const { now, maxPagesPerWalk = 10_000, ...http } = options;
  return createAggregators(
    createVendorHttp({
      egress: { allowHosts: hosts, allowHttp: true },
      connectTimeoutMs: 1_000,
      timeoutMs: 2_000,
      maxResponseBytes: 8 * 1024 * 1024,
      ...http,
    }),
    now,
    { maxPagesPerWalk },
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

/** The PageWalkError `work` fails with; fails the test if it succeeds or throws anything else. */
export async function walkFailure(work: Promise<unknown>): Promise<PageWalkError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof PageWalkError, `expected a PageWalkError, got ${err}`);
    return err;
  }
  assert.fail("expected a PageWalkError");
}

/** Runs `check` and answers how it failed, as kind and reason. */
export async function checkFailure(client: AggregatorClient, accountRef: string) {
  const err = await vendorFailure(client.check(accountRef));
  return { kind: err.kind, reason: err.reason };
}

/** What a test hooks into each transaction walk of `gatedWalks`. */
export interface WalkHooks {
  /** Called when a walk of `accountId` starts, before its first request; awaited. */
  start?(accountId: string): Promise<void> | void;
  /** Called before the walk yields its `n`-th page (fetched already); awaited. */
  beforePage?(accountId: string, n: number): Promise<void> | void;
  /** Called when the walk ends, however it ends. */
  end?(accountId: string, error?: unknown): void;
}

/** Aggregators whose transaction walks go through `hooks`, so a test can hold them at a page. */
export function gatedWalks(real: Aggregators, hooks: WalkHooks): Aggregators {
  return {
    client(vendor, baseUrl, credential) {
      const client = real.client(vendor, baseUrl, credential);
      return {
        ...client,
        async *transactions(query) {
          let failure: unknown;
          try {
            await hooks.start?.(query.accountId);
            let n = 0;
            for await (const page of client.transactions(query)) {
              await hooks.beforePage?.(query.accountId, ++n);
              yield page;
            }
          } catch (error) {
            failure = error;
            throw error;
          } finally {
            hooks.end?.(query.accountId, failure);
          }
        },
      };
    },
  };
}
