// A request body that trickles in is answered 408 once MATCHER_HTTP_BODY_TIMEOUT_MS has passed.
import assert from "node:assert/strict";
import { pluggyBody } from "../support/harness.ts";
import { wirePluggy } from "../support/pulls.ts";

const BODY_TIMEOUT_MS = 300;

/**
 * Sends the request head at once, then the body one byte every 50 ms, reading meanwhile; answers
 * the status line and body of the answer, and how many body bytes had been sent when it came.
 */
async function trickle(base: string, path: string, headers: Record<string, string>, body: string) {
  const url = new URL(path, base);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  const encoder = new TextEncoder();
  const head = [
    `POST ${url.pathname} HTTP/1.1`,
    `Host: ${url.host}`,
    "Content-Type: application/json",
    `Content-Length: ${encoder.encode(body).byteLength}`,
    "Connection: close", // so that the answer, whatever it is, ends where the stream does
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  await conn.write(encoder.encode(`${head.join("\r\n")}\r\n\r\n`));
  let answered = false;
  const reading = new Response(conn.readable).text().finally(() => answered = true);
  let sent = 0;
  try {
    for (const byte of encoder.encode(body)) {
      if (answered) break;
      await conn.write(Uint8Array.of(byte));
      sent++;
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch {
    // the server closed the connection mid-body
  }
  // A safety net, far longer than the bound: an answer that never comes fails the test.
  const raw = await Promise.race([
    reading,
    new Promise<string>((r) => setTimeout(() => r("no answer"), 30_000)),
  ]);
  try {
    conn.close();
  } catch {
    // already closed by the server
  }
  const [status, ...rest] = raw.split("\r\n");
  const text = raw.slice(raw.indexOf("\r\n\r\n") + 4);
  return { status, headers: rest.join("\n").toLowerCase(), text, sent, of: body.length };
}

Deno.test("bodies that trickle past the body timeout are answered 408 and not processed", async (t) => {
  const w = await wirePluggy({}, {
    pulls: { wake: false },
    http: { bodyTimeoutMs: BODY_TIMEOUT_MS },
  });
  try {
    const check = (answer: Awaited<ReturnType<typeof trickle>>) => {
      assert.match(answer.status, /^HTTP\/1\.1 408 /, answer.status);
      const body = JSON.parse(answer.text);
      assert.equal(body.code, "MTCH-1408");
      assert.equal(body.title, "Request Timeout");
      assert.match(answer.headers, /connection: close/);
      assert.ok(answer.sent < answer.of, `answered mid-body (${answer.sent} of ${answer.of})`);
    };

    await t.step("a webhook delivery", async () => {
      // Valid as a whole: sent in full, it would be recorded.
      const payload = JSON.stringify(w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
      check(await trickle(w.h.baseUrl, new URL(w.webhookUrl).pathname, {}, payload));
      const [{ n }] = await w.h.sql`select count(*)::int as n from webhook_events`;
      assert.equal(n, 0, "nothing recorded");
    });

    await t.step("a JSON API body", async () => {
      const token = await w.h.token(w.tenant);
      const body = JSON.stringify(pluggyBody({ configName: "slow-one" }));
      const path = "/v1/discovery/aggregator-connections";
      check(await trickle(w.h.baseUrl, path, { Authorization: `Bearer ${token}` }, body));
      const [{ n }] = await w.h.sql`
        select count(*)::int as n from connections where config_name = 'slow-one'`;
      assert.equal(n, 0, "nothing created");
    });

    await t.step("a webhook delivery whose client leaves mid-body", async () => {
      const payload = JSON.stringify(w.fake.webhooks.itemUpdated({ itemId: w.accountRef }));
      const url = new URL(w.webhookUrl);
      const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
      const head = `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`;
      await conn.write(new TextEncoder().encode(head + payload.slice(0, 10)));
      await new Promise((r) => setTimeout(r, 50));
      conn.close();
      // Long enough for the delivery to be recorded, had the server taken half a body for one.
      await new Promise((r) => setTimeout(r, BODY_TIMEOUT_MS * 2));
      const [{ n }] = await w.h.sql`select count(*)::int as n from webhook_events`;
      assert.equal(n, 0, "nothing recorded");
      assert.ok(!w.h.logs.some((line) => line.includes('"level":"error"')), "no failure logged");
      const res = await w.fake.sendWebhook(w.webhookUrl, JSON.parse(payload));
      assert.equal(res.status, 202, "the next delivery is served");
      await res.body?.cancel();
    });

    await t.step("a body sent in time is served as before", async () => {
      const res = await w.h.request("/v1/discovery/aggregator-connections", {
        method: "POST",
        tenant: w.tenant,
        json: pluggyBody({ configName: "quick-one" }),
      });
      assert.equal(res.status, 201);
    });
  } finally {
    await w.close();
  }
});
