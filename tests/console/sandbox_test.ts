// `deno task sandbox`: the printed values work against the fakes, and a pasted URL gets a webhook.
import assert from "node:assert/strict";
import { cleanEnv } from "../support/process.ts";
import { startSandbox } from "./sandbox_process.ts";

Deno.test({
  name: "the sandbox prints working form values and delivers a webhook to a pasted URL",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const received: { path: string; body: Record<string, unknown> }[] = [];
    const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      received.push({ path: new URL(req.url).pathname, body: await req.json() });
      return Response.json({ status: "accepted", pullId: crypto.randomUUID() }, { status: 202 });
    });
    const sandbox = await startSandbox(cleanEnv());
    try {
      const { env, pluggy, belvo } = sandbox.values;
      const hosts = [pluggy.baseUrl, belvo.baseUrl].map((u) => new URL(u).host);
      assert.deepEqual(env, {
        MATCHER_EGRESS_ALLOW_HOSTS: hosts.join(","),
        MATCHER_EGRESS_ALLOW_HTTP: "true",
      });

      // The printed credentials are the ones the fakes accept.
      const auth = await fetch(`${pluggy.baseUrl}/auth`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ clientId: pluggy.clientId, clientSecret: pluggy.secret }),
      });
      assert.equal(auth.status, 200);
      const { apiKey } = await auth.json();
      const item = await fetch(`${pluggy.baseUrl}/items/${pluggy.accountRef}`, {
        headers: { "X-API-KEY": apiKey },
      });
      assert.equal(item.status, 200);
      await item.body?.cancel();
      const link = await fetch(`${belvo.baseUrl}/api/links/${belvo.accountRef}/`, {
        headers: { authorization: `Basic ${btoa(`${belvo.clientId}:${belvo.secret}`)}` },
      });
      assert.equal(link.status, 200);
      await link.body?.cancel();

      const base = `http://127.0.0.1:${receiver.addr.port}/v1/discovery/webhooks`;
      assert.match(await sandbox.send(`${base}/pluggy/mwh_test`), /^webhook delivered: 202 /);
      assert.match(await sandbox.send(`${base}/belvo/mwh_test`), /^webhook delivered: 202 /);
      assert.match(await sandbox.send("http://127.0.0.1/elsewhere"), /not a webhook URL/);
      assert.deepEqual(received.map((r) => r.path), [
        "/v1/discovery/webhooks/pluggy/mwh_test",
        "/v1/discovery/webhooks/belvo/mwh_test",
      ]);
      assert.equal(received[0].body.event, "transactions/created");
      assert.equal(received[0].body.itemId, pluggy.accountRef);
      assert.equal(received[0].body.transactionsCount, 3);
      assert.equal(received[1].body.webhook_code, "new_transactions_available");
      assert.equal(received[1].body.link_id, belvo.accountRef);
    } finally {
      await sandbox.stop();
      await receiver.shutdown();
    }
  },
});
