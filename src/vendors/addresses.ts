// Which IP addresses a vendor host may resolve to: public unicast only.
import { isIPv4, isIPv6 } from "node:net";

/** IPv4 ranges that are never a vendor's API: [first address, prefix length, why]. */
const FORBIDDEN_V4: Array<[string, number]> = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT (also Alibaba's metadata address)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, with the cloud metadata address 169.254.169.254
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved and broadcast
];

function v4ToNumber(ip: string): number {
  return ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

function forbiddenV4(ip: string): boolean {
  const n = v4ToNumber(ip);
  return FORBIDDEN_V4.some(([base, bits]) => {
    const size = 2 ** (32 - bits);
    const start = v4ToNumber(base);
    return n >= start && n < start + size;
  });
}

/** The eight 16-bit groups of an IPv6 address (with `::` expanded and a dotted tail converted). */
function v6Groups(ip: string): number[] {
  let text = ip.toLowerCase().replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const n = v4ToNumber(dotted[1]);
    text = text.slice(0, -dotted[1].length) +
      `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.split("::");
  const parse = (part: string | undefined) =>
    part ? part.split(":").map((g) => parseInt(g, 16)) : [];
  const left = parse(head);
  const right = parse(tail);
  const fill = tail === undefined ? [] : new Array(8 - left.length - right.length).fill(0);
  return [...left, ...fill, ...right];
}

function forbiddenV6(ip: string): boolean {
  const g = v6Groups(ip);
  if (g.length !== 8 || g.some((n) => Number.isNaN(n))) return true;
  const zeroPrefix = (count: number) => g.slice(0, count).every((n) => n === 0);
  const embeddedV4 = () => `${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`;
  if (zeroPrefix(5) && g[5] === 0xffff) return forbiddenV4(embeddedV4()); // IPv4-mapped
  // IPv4-compatible (deprecated), which also covers :: and ::1 (0.0.0.0/8)
  if (zeroPrefix(6)) return forbiddenV4(embeddedV4());
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0) {
    return forbiddenV4(embeddedV4()); // NAT64
  }
  if ((g[0] & 0xfe00) === 0xfc00) return true; // unique local, with AWS's fd00:ec2::254
  if ((g[0] & 0xffc0) === 0xfe80) return true; // link-local
  if ((g[0] & 0xff00) === 0xff00) return true; // multicast
  if (g[0] === 0x2001 && g[1] === 0x0db8) return true; // documentation
  if (g[0] === 0x0100 && g[1] === 0 && g[2] === 0 && g[3] === 0) return true; // discard
  return false;
}

/**
 * True for loopback, private, link-local, CGNAT, multicast, reserved and metadata addresses, and
 * for anything that is not an IP address at all.
 */
export function isForbiddenAddress(ip: string): boolean {
  if (isIPv4(ip)) return forbiddenV4(ip);
  const bare = ip.replace(/^\[|\]$/g, "");
  if (isIPv6(bare.replace(/%.*$/, ""))) return forbiddenV6(bare);
  return true;
}
