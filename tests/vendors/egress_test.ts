// The egress policy: each refused kind of URL and address, redirects, timeouts and the size cap.
import assert from "node:assert/strict";
import { isForbiddenAddress } from "../../src/vendors/addresses.ts";
import { checkEgressUrl, type EgressPolicy } from "../../src/vendors/egress.ts";
import { createVendorHttp, type VendorHttpOptions } from "../../src/vendors/vendor_http.ts";
import type { Vendor } from "../../src/vendors/vendors.ts";
import { vendorFailure } from "../support/vendors.ts";

const closed: EgressPolicy = { allowHosts: [], allowHttp: false };

function verdict(vendor: Vendor, url: string, policy: EgressPolicy = closed) {
  return checkEgressUrl(vendor, new URL(url), policy);
}

Deno.test("the URL-level egress matrix", async (t) => {
  const refused: Array<[string, Vendor, string, EgressPolicy?, RegExp?]> = [
    ["plain http to a vendor host", "pluggy", "http://api.pluggy.ai/auth", closed, /https/],
    ["another host", "pluggy", "https://evil.example.com/auth", closed, /API host/],
    ["the other vendor's host", "pluggy", "https://api.belvo.com/", closed, /API host/],
    ["a look-alike host", "pluggy", "https://api.pluggy.ai.evil.example/", closed, /API host/],
    ["an IPv4 literal", "belvo", "https://127.0.0.1/api/", closed, /IP address/],
    ["an IPv4 literal in hex", "belvo", "https://0x7f000001/api/", closed, /IP address/],
    ["an IPv6 literal", "belvo", "https://[::1]/api/", closed, /IP address/],
    ["the metadata address", "pluggy", "https://169.254.169.254/latest/", closed, /IP address/],
    ["user info", "pluggy", "https://user:pw@api.pluggy.ai/", closed, /user info/],
    ["a vendor host on another port", "pluggy", "https://api.pluggy.ai:8443/", closed, /API host/],
    [
      "http to an allowed host while http is not allowed",
      "pluggy",
      "http://127.0.0.1:9000/",
      { allowHosts: ["127.0.0.1:9000"], allowHttp: false },
      /https/,
    ],
    [
      "an allowed host on another port",
      "pluggy",
      "https://sandbox.example.com:444/",
      { allowHosts: ["sandbox.example.com:443"], allowHttp: false },
      /API host/,
    ],
  ];
  for (const [name, vendor, url, policy, reason] of refused) {
    await t.step(`refuses ${name}`, () => {
      const v = verdict(vendor, url, policy);
      assert.equal(v.ok, false);
      if (!v.ok && reason) assert.match(v.reason, reason);
    });
  }

  await t.step("admits each vendor's own hosts over https, without a DNS lookup", () => {
    assert.deepEqual(verdict("pluggy", "https://api.pluggy.ai/auth"), {
      ok: true,
      allowedHost: false,
    });
    for (const host of ["api.belvo.com", "sandbox.belvo.com", "development.belvo.com"]) {
      assert.deepEqual(verdict("belvo", `https://${host}/api/`), { ok: true, allowedHost: false });
    }
  });

  await t.step("an allowed host:port entry admits that port, the default one included", () => {
    const policy = {
      allowHosts: ["sandbox.example.com:443", "plain.example.com:80"],
      allowHttp: true,
    };
    assert.equal(verdict("pluggy", "https://sandbox.example.com/", policy).ok, true);
    assert.equal(verdict("pluggy", "https://sandbox.example.com:80/", policy).ok, false);
    assert.equal(verdict("pluggy", "http://plain.example.com/", policy).ok, true);
    assert.equal(verdict("pluggy", "http://plain.example.com:443/", policy).ok, false);
  });

  await t.step("admits an allowed host, over http only when http is allowed", () => {
    const policy = { allowHosts: ["127.0.0.1:9000"], allowHttp: true };
    assert.deepEqual(verdict("pluggy", "http://127.0.0.1:9000/auth", policy), {
      ok: true,
      allowedHost: true,
    });
  });
});

Deno.test("addresses a vendor host may not resolve to", async (t) => {
  const forbidden = [
    "127.0.0.1",
    "127.255.0.9",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.0.1",
    "100.64.0.1",
    "100.100.100.200",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "fd00:ec2::254",
    "fc00::1",
    "fe80::1",
    "fe80::1%eth0",
    "ff02::1",
    "2001:db8::1",
    "::127.0.0.1",
    "::169.254.169.254",
    "not-an-address",
  ];
  // Public addresses, the first ones after each forbidden range among them.
  const allowed = [
    "8.8.8.8",
    "52.3.4.5",
    "1.0.0.0",
    "11.0.0.0",
    "100.128.0.0",
    "128.0.0.0",
    "169.255.0.0",
    "172.32.0.0",
    "192.169.0.0",
    "223.255.255.255",
    "2606:4700::1111",
  ];
  await t.step("forbidden: loopback, private, link-local, CGNAT, multicast, metadata", () => {
    for (const ip of forbidden) assert.equal(isForbiddenAddress(ip), true, ip);
  });
  await t.step("allowed: public unicast", () => {
    for (const ip of allowed) assert.equal(isForbiddenAddress(ip), false, ip);
  });
});

/** A local server that records every request it gets. */
function recordingServer(handler: (req: Request) => Response | Promise<Response>) {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(new URL(req.url).pathname);
    return handler(req);
  });
  return { seen, host: `127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

function http(options: Partial<VendorHttpOptions>) {
  return createVendorHttp({
    egress: closed,
    connectTimeoutMs: 1_000,
    timeoutMs: 2_000,
    maxResponseBytes: 1024,
    ...options,
  });
}

Deno.test("requests to a vendor host resolving to a forbidden address are never sent", async (t) => {
  for (const address of ["127.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "10.0.0.7"]) {
    await t.step(`refuses api.pluggy.ai resolving to ${address}`, async () => {
      const send = http({ resolve: () => Promise.resolve(["52.1.2.3", address]) });
      const err = await vendorFailure(
        send("pluggy", {
          method: "GET",
          url: new URL("https://api.pluggy.ai/auth"),
          operation: "t",
        }),
      );
      assert.equal(err.kind, "permanent");
      assert.equal(err.reason, "vendor_unreachable");
      assert.match(err.message, /non-public address/);
    });
  }
  await t.step("a host that does not resolve is unreachable, and worth retrying", async () => {
    const notFound = Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    for (const resolve of [() => Promise.reject(notFound), () => Promise.resolve([])]) {
      const err = await vendorFailure(
        http({ resolve })("belvo", {
          method: "GET",
          url: new URL("https://api.belvo.com/api/"),
          operation: "t",
        }),
      );
      assert.equal(err.kind, "transient");
      assert.equal(err.reason, "vendor_unreachable");
      assert.match(err.message, /did not resolve/);
    }
  });
  await t.step("a URL the policy refuses is never resolved", async () => {
    let lookups = 0;
    const send = http({ resolve: () => (lookups++, Promise.resolve(["52.1.2.3"])) });
    const err = await vendorFailure(
      send("pluggy", { method: "GET", url: new URL("http://api.pluggy.ai/x"), operation: "t" }),
    );
    assert.match(err.message, /egress refused: must use https/);
    assert.equal(lookups, 0);
  });
});

Deno.test("the address checked is the address connected to: a host is resolved once a request", async () => {
  // A rebinding host answers a harmless address first and a forbidden one afterwards. Checking
  // one lookup and connecting after another would let the second through; here the connection
  // uses the lookup it checked, so the second answer is never asked for.
  let lookups = 0;
  const send = http({
    egress: { allowHosts: [], allowHttp: false },
    resolve: () => Promise.resolve([lookups++ === 0 ? "127.0.0.2" : "169.254.169.254"]),
    isForbidden: (ip) => ip !== "127.0.0.2",
  });
  // 127.0.0.2:443 has no listener: the call fails to connect, after exactly one lookup.
  const err = await vendorFailure(
    send("pluggy", { method: "GET", url: new URL("https://api.pluggy.ai/auth"), operation: "t" }),
  );
  assert.match(err.message, /connection failed/);
  assert.equal(lookups, 1);
});

Deno.test("allowed hosts skip the address check, and nothing else", async (t) => {
  const target = recordingServer(() => Response.json({ ok: true }));
  const egress = { allowHosts: [target.host], allowHttp: true };
  try {
    await t.step("an allowed loopback host is called", async () => {
      const send = http({ egress, resolve: () => Promise.reject(new Error("must not resolve")) });
      const res = await send("pluggy", {
        method: "GET",
        url: new URL(`http://${target.host}/ok`),
        operation: "t",
      });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(res.body)), { ok: true });
    });
    await t.step("a vendor host still gets the address check", async () => {
      const send = http({ egress, resolve: () => Promise.resolve(["127.0.0.1"]) });
      const err = await vendorFailure(
        send("pluggy", { method: "GET", url: new URL("https://api.pluggy.ai/"), operation: "t" }),
      );
      assert.match(err.message, /non-public address/);
    });
    assert.deepEqual(target.seen, ["/ok"]);
  } finally {
    await target.close();
  }
});

Deno.test("redirects are never followed", async () => {
  const elsewhere = recordingServer(() => Response.json({ stolen: true }));
  const target = recordingServer((req) =>
    new Response(null, {
      status: Number(new URL(req.url).pathname.slice(1)),
      headers: { location: `http://${elsewhere.host}/x` },
    })
  );
  const egress = { allowHosts: [target.host, elsewhere.host], allowHttp: true };
  try {
    for (const status of [300, 301, 302, 303, 307, 308]) {
      const err = await vendorFailure(
        http({ egress })("pluggy", {
          method: "GET",
          url: new URL(`http://${target.host}/${status}`),
          operation: "pluggy GET /items/{id}",
        }),
      );
      assert.equal(err.kind, "permanent");
      assert.equal(err.reason, "unexpected_response");
      assert.equal(err.details.status, status);
    }
    assert.equal(target.seen.length, 6);
    assert.deepEqual(elsewhere.seen, []);
  } finally {
    await target.close();
    await elsewhere.close();
  }
});

/** A raw HTTP server that declares a body far longer than it sends, then holds the socket. */
function lyingServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      open.push(conn);
      await conn.read(new Uint8Array(4096));
      await conn.write(
        new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n0123456789"),
      );
    }
  })().catch(() => {});
  return {
    host: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close() {
      for (const conn of open) conn.close();
      listener.close();
    },
  };
}

Deno.test("timeouts, refused connections and oversized bodies are typed failures", async (t) => {
  const target = recordingServer(async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/slow-headers") await new Promise((r) => setTimeout(r, 1_500));
    if (path === "/big") return new Response("x".repeat(4096));
    if (path === "/exact") return new Response("x".repeat(1024));
    if (path === "/exact-stream" || path === "/big-stream") {
      const chunk = new TextEncoder().encode("y".repeat(256));
      let left = path === "/exact-stream" ? 4 : 10;
      return new Response(
        new ReadableStream({
          pull(c) {
            left-- > 0 ? c.enqueue(chunk) : c.close();
          },
        }),
      );
    }
    if (path === "/slow-body" || path === "/slow-but-in-time") {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ms = path === "/slow-body" ? 2_500 : 500;
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode("{"));
            timer = setTimeout(() => {
              c.enqueue(new TextEncoder().encode("}"));
              c.close();
            }, ms);
          },
          cancel() {
            clearTimeout(timer);
          },
        }),
      );
    }
    return Response.json({});
  });
  const egress = { allowHosts: [target.host], allowHttp: true };
  const send = (path: string, options: Partial<VendorHttpOptions> = {}) =>
    http({ egress, ...options })("belvo", {
      method: "GET",
      url: new URL(`http://${target.host}${path}`),
      operation: "belvo GET /api/",
    });
  try {
    await t.step("no response headers within the connect timeout", async () => {
      const err = await vendorFailure(send("/slow-headers", { connectTimeoutMs: 200 }));
      assert.equal(err.kind, "transient");
      assert.equal(err.reason, "timeout");
    });
    await t.step("a body still arriving at the total timeout", async () => {
      const err = await vendorFailure(
        send("/slow-body", { timeoutMs: 500, connectTimeoutMs: 400 }),
      );
      assert.equal(err.kind, "transient");
      assert.equal(err.reason, "timeout");
    });
    await t.step("a body that outlasts the connect timeout but not the total one", async () => {
      const res = await send("/slow-but-in-time", { connectTimeoutMs: 200, timeoutMs: 2_000 });
      assert.equal(new TextDecoder().decode(res.body), "{}");
    });
    await t.step("a body of exactly the cap, declared or streamed", async () => {
      assert.equal((await send("/exact")).body.byteLength, 1024);
      assert.equal((await send("/exact-stream")).body.byteLength, 1024);
    });
    await t.step("a declared length over the cap", async () => {
      const err = await vendorFailure(send("/big"));
      assert.equal(err.kind, "transient");
      assert.match(err.message, /over 1024 bytes/);
    });
    await t.step("a streamed body that grows past the cap", async () => {
      const err = await vendorFailure(send("/big-stream"));
      assert.match(err.message, /over 1024 bytes/);
    });
    await t.step("a declared length over the cap fails at once, not at the timeout", async () => {
      const liar = lyingServer();
      try {
        const err = await vendorFailure(
          http({ egress: { allowHosts: [liar.host], allowHttp: true }, timeoutMs: 2_000 })(
            "belvo",
            { method: "GET", url: new URL(`http://${liar.host}/`), operation: "belvo GET /api/" },
          ),
        );
        // Without the declared-length check this would end as a timeout instead.
        assert.match(err.message, /over 1024 bytes/);
      } finally {
        liar.close();
      }
    });
    await t.step("nothing listening", async () => {
      const err = await vendorFailure(
        http({ egress: { allowHosts: ["127.0.0.1:1"], allowHttp: true } })("belvo", {
          method: "GET",
          url: new URL("http://127.0.0.1:1/api/"),
          operation: "belvo GET /api/",
        }),
      );
      assert.equal(err.kind, "transient");
      assert.equal(err.reason, "vendor_unreachable");
    });
  } finally {
    await target.close();
  }
});
