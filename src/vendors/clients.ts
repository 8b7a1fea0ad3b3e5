// Builds the right client for a connection's vendor; the Pluggy key cache lives as long as this.
import type { AggregatorClient, Credential } from "./aggregator.ts";
import { createBelvoClient } from "./belvo.ts";
import { createPluggyClient } from "./pluggy.ts";
import { createPluggyKeyCache } from "./pluggy_keys.ts";
import type { VendorHttp } from "./vendor_http.ts";
import type { Vendor } from "./vendors.ts";

export interface Aggregators {
  client(vendor: Vendor, baseUrl: string, credential: Credential): AggregatorClient;
}

export function createAggregators(
  http: VendorHttp,
  now: () => number = Date.now,
  limits: { maxPagesPerWalk: number },
): Aggregators {
  const pluggyKeys = createPluggyKeyCache();
  return {
    client(vendor, baseUrl, credential) {
      const ctx = { baseUrl, credential, http, now, maxPagesPerWalk: limits.maxPagesPerWalk };
      return vendor === "pluggy" ? createPluggyClient(ctx, pluggyKeys) : createBelvoClient(ctx);
    },
  };
}
