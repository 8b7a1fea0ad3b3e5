// Which IP addresses a vendor host may resolve to: public unicast only, judged by ipaddr.js's ranges.
import ipaddr from "ipaddr.js";
import { isIP } from "node:net";

/** The RFC 6052 well-known NAT64 prefix, whose last 32 bits are the IPv4 address reached. */
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR("64:ff9b::/96");
/** IPv4-compatible addresses (RFC 4291, deprecated); ipaddr.js calls all but `::` and `::1` unicast. */
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR("::/96");

/**
 * True for every address that is not public unicast: loopback, private, link-local, CGNAT,
 * multicast, reserved, documentation, the cloud metadata address, the IPv6 transition ranges (6to4,
 * Teredo, RFC 6145 and 8215 translation, site-local, IPv4-compatible), and anything that is not an
 * IP address at all. An IPv4-mapped address, or one under the well-known NAT64 prefix, reaches its
 * embedded IPv4 address, so that address is judged instead. ipaddr.js keeps the table of special
 * ranges (IANA's registries), so a range missed here is a library update, not a hand edit.
 */
export function isForbiddenAddress(ip: string): boolean {
  const text = ip.replace(/^\[|\]$/g, "");
  // Only the canonical forms a resolver answers: ipaddr.js also reads "1.2.3" or "0x7f.1".
  if (!isIP(text.replace(/%[^%]*$/, "")) || !ipaddr.isValid(text)) return true;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(text);
  } catch {
    return true;
  }
  if (address.kind() === "ipv4") return address.range() !== "unicast";
  const v6 = address as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return isForbiddenAddress(v6.toIPv4Address().toString());
  if (v6.match(NAT64_WELL_KNOWN)) return isForbiddenAddress(embeddedIPv4(v6).toString());
  if (v6.match(IPV4_COMPATIBLE)) return true;
  return v6.range() !== "unicast";
}

/** The IPv4 address in the last 32 bits of `v6`. */
function embeddedIPv4(v6: ipaddr.IPv6): ipaddr.IPv4 {
  const bytes = v6.toByteArray();
  return new ipaddr.IPv4(bytes.slice(12, 16));
}
