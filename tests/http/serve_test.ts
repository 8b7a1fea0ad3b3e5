// The node:http server the service runs on (src/http/serve.ts): what it does besides timeouts.
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { startHarness } from "../support/harness.ts";

/** A raw HTTP/1.1 exchange: the head of the answer, and its body as bytes. */
async function exchange(baseUrl: string, request: string) {
  const url = new URL(baseUrl);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  await conn.write(new TextEncoder().encode(request));
  const bytes = new Uint8Array(await new Response(conn.readable).arrayBuffer());
  const split = bytes.findIndex((_, i) =>
    bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10
  );
  return {
    head: new TextDecoder().decode(bytes.subarray(0, split)).toLowerCase(),
    body: bytes.subarray(split + 4),
  };
}

Deno.test("the server gzips large JSON for clients that accept it, as Deno.serve did", async (t) => {
  const h = await startHarness();
  try {
    await t.step("the spec (over 1 KiB) is gzipped, and decodes to the same document", async () => {
      const plain = await exchange(
        h.baseUrl,
        "GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      assert.doesNotMatch(plain.head, /content-encoding/);
      const zipped = await exchange(
        h.baseUrl,
        "GET /openapi.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\nConnection: close\r\n\r\n",
      );
      assert.match(zipped.head, /content-encoding: gzip/);
      assert.match(zipped.head, /vary: accept-encoding/);
      assert.match(zipped.head, new RegExp(`content-length: ${zipped.body.byteLength}\\b`));
      assert.ok(zipped.body.byteLength < plain.body.byteLength / 3);
      const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
      assert.equal(decode(gunzipSync(zipped.body)), decode(plain.body));
    });

    await t.step("a small answer, or a client that refuses gzip, gets it as it is", async () => {
      for (
        const [path, encoding] of [["/health", "gzip"], ["/openapi.json", "gzip;q=0, br"]]
      ) {
        const answer = await exchange(
          h.baseUrl,
          `GET ${path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: ${encoding}\r\nConnection: close\r\n\r\n`,
        );
        assert.match(answer.head, /^http\/1\.1 200/);
        assert.doesNotMatch(answer.head, /content-encoding/, path);
      }
    });
  } finally {
    await h.close();
  }
});

Deno.test("the server routes odd paths as paths, and closes on a body the app did not read", async (t) => {
  const h = await startHarness();
  try {
    await t.step("a path starting with // is a path, not a host", async () => {
      const answer = await exchange(
        h.baseUrl,
        "GET //evil.example.com/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      assert.match(answer.head, /^http\/1\.1 404/);
      assert.equal(JSON.parse(new TextDecoder().decode(answer.body)).code, "MTCH-1404");
    });

    await t.step("a body the app did not read to its end closes the connection", async () => {
      // An unknown token is refused before the body is read; 10 of the 100,000 bytes announced
      // have come. The answer ends the connection (the exchange reads to its end).
      const answer = await exchange(
        h.baseUrl,
        "POST /v1/discovery/webhooks/pluggy/mwh_unknown HTTP/1.1\r\nHost: x\r\n" +
          'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"a": 1234',
      );
      assert.match(answer.head, /^http\/1\.1 404/);
      assert.match(answer.head, /connection: close/);
    });
  } finally {
    await h.close();
  }
});
