// The egress policy at the URL level: which base URLs a connection may point the service at.
import type { Config } from "../config/config.ts";
import { type Vendor, VENDOR_HOSTS } from "./vendors.ts";

export type EgressPolicy = Config["egress"];

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** True when `entry` (`host` or `host:port` from MATCHER_EGRESS_ALLOW_HOSTS) admits the URL. */
function allows(entry: string, url: URL): boolean {
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const hostname = url.hostname.toLowerCase();
  const at = entry.lastIndexOf(":");
  const hasPort = at > entry.lastIndexOf("]");
  return hasPort ? entry === `${hostname}:${port}` : entry === hostname;
}

/**
 * Checks a connection's base URL without any DNS lookup, and answers its normalized form
 * (origin and path, no trailing slash) or the reason it is refused.
 */
export function checkBaseUrl(
  vendor: Vendor,
  raw: string,
  policy: EgressPolicy,
): { ok: true; url: string } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { ok: false, reason: "must be an absolute URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "must not contain user info" };
  if (url.search || url.hash || raw.includes("?") || raw.includes("#")) {
    return { ok: false, reason: "must not have a query or a fragment" };
  }
  const extra = policy.allowHosts.some((entry) => allows(entry, url));
  const vendorHost = VENDOR_HOSTS[vendor].includes(url.hostname.toLowerCase()) && !url.port;
  if (url.protocol !== "https:") {
    if (!(url.protocol === "http:" && extra && policy.allowHttp)) {
      return { ok: false, reason: "must use https" };
    }
  }
  if (!vendorHost && !extra) {
    const isIp = IPV4.test(url.hostname) || url.hostname.startsWith("[");
    return {
      ok: false,
      reason: isIp
        ? "must not be an IP address"
        : `must be on ${vendor}'s API host (${VENDOR_HOSTS[vendor].join(", ")})`,
    };
  }
  return { ok: true, url: url.origin + url.pathname.replace(/\/+$/, "") };
}
