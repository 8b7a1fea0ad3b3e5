// The egress policy at the URL level: which URLs a connection may point the service at.
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

export type EgressVerdict =
  /** `allowedHost`: the host is an operator-allowed extra host, which skips the address check. */
  | { ok: true; allowedHost: boolean }
  | { ok: false; reason: string };

/**
 * The URL-level rules, without any DNS lookup: https only (http only to allowed hosts when
 * allowed), no user info, the vendor's own hosts on the default port or an allowed extra host,
 * and no IP literal unless it is an allowed host.
 */
export function checkEgressUrl(vendor: Vendor, url: URL, policy: EgressPolicy): EgressVerdict {
  if (url.username || url.password) return { ok: false, reason: "must not contain user info" };
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
  return { ok: true, allowedHost: extra };
}

/**
 * Checks a connection's base URL on the URL alone (a connection must be creatable on a machine
 * without DNS), and answers its normalized form (origin and path, no trailing slash).
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
  if (url.search || url.hash || raw.includes("?") || raw.includes("#")) {
    return { ok: false, reason: "must not have a query or a fragment" };
  }
  const verdict = checkEgressUrl(vendor, url, policy);
  if (!verdict.ok) return verdict;
  return { ok: true, url: url.origin + url.pathname.replace(/\/+$/, "") };
}
