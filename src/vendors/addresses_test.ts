// Each range a vendor host may not resolve to, the IPv6 transition ranges included, and public ones.
import assert from "node:assert/strict";
import { isForbiddenAddress } from "./addresses.ts";

const FORBIDDEN: Array<[string, string[]]> = [
  ["6to4 embedding loopback and private IPv4", ["2002:7f00:1::1", "2002:a00:1::", "2002::1"]],
  ["6to4 embedding a public IPv4 (6to4 is never a vendor's API)", ["2002:808:808::1"]],
  ["Teredo", ["2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"]],
  ["RFC 8215 local-use NAT64", ["64:ff9b:1::a00:1", "64:ff9b:1::808:808"]],
  ["RFC 6145 IPv4-translated", ["::ffff:0:7f00:1", "::ffff:0:a00:1", "::ffff:0:808:808"]],
  ["site-local (deprecated)", ["fec0::1", "feff:ffff::1"]],
  ["6to4 relay anycast", ["192.88.99.1", "192.88.99.255"]],
  ["IPv4-compatible (deprecated)", ["::7f00:1", "::808:808", "::2"]],
  ["well-known NAT64 to a private IPv4", ["64:ff9b::a00:1", "64:ff9b::127.0.0.1"]],
  ["IPv4-mapped to a private IPv4", ["::ffff:10.0.0.1", "::ffff:192.168.0.1"]],
  ["benchmarking and documentation", ["2001:2::1", "198.18.0.1", "2001:db8::1", "3fff::1"]],
  ["ORCHID and discard", ["2001:20::1", "100::1"]],
  ["AS112 and AMT", ["192.175.48.1", "192.52.193.1"]],
  ["broadcast and reserved", ["255.255.255.255", "240.0.0.1"]],
  ["not an address", ["", "api.pluggy.ai", "1.2.3", "::g", "[::1"]],
];

const PUBLIC = [
  "8.8.8.8",
  "52.3.4.5",
  "192.88.98.255",
  "192.88.100.0",
  "2606:4700::1111",
  "2600:1f18::1",
  "2001:4860:4860::8888",
  "[2606:4700::1111]",
  // Mapped and well-known NAT64 addresses reach the public IPv4 address they embed.
  "::ffff:8.8.8.8",
  "64:ff9b::808:808",
];

Deno.test("the IPv6 transition ranges and the other special ranges are forbidden", async (t) => {
  for (const [range, addresses] of FORBIDDEN) {
    await t.step(range, () => {
      for (const ip of addresses) assert.equal(isForbiddenAddress(ip), true, ip);
    });
  }
});

Deno.test("public unicast addresses are allowed, embedded or not", () => {
  for (const ip of PUBLIC) assert.equal(isForbiddenAddress(ip), false, ip);
});
