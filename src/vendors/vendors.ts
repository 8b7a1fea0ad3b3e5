// The aggregator vendors this service speaks to (the spec's Vendor enum), and their own API hosts.
import type { components } from "../../generated/types.ts";
import { zVendor } from "../../generated/zod/zod.gen.ts";

export type Vendor = components["schemas"]["Vendor"];

/** Every vendor, in the spec's order. */
export const VENDORS: readonly Vendor[] = zVendor.options;

/** The hosts each vendor serves its API from; a connection's baseUrl must be on one of them. */
export const VENDOR_HOSTS: Record<Vendor, readonly string[]> = {
  pluggy: ["api.pluggy.ai"],
  belvo: ["api.belvo.com", "sandbox.belvo.com", "development.belvo.com"],
};

export function isVendor(value: string): value is Vendor {
  return (VENDORS as readonly string[]).includes(value);
}
