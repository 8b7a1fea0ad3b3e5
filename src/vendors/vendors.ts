// The aggregator vendors this service speaks to, and their own API hosts.

export const VENDORS = ["pluggy", "belvo"] as const;
export type Vendor = typeof VENDORS[number];

/** The hosts each vendor serves its API from; a connection's baseUrl must be on one of them. */
export const VENDOR_HOSTS: Record<Vendor, readonly string[]> = {
  pluggy: ["api.pluggy.ai"],
  belvo: ["api.belvo.com", "sandbox.belvo.com", "development.belvo.com"],
};

export function isVendor(value: string): value is Vendor {
  return (VENDORS as readonly string[]).includes(value);
}
