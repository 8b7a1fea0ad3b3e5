// `deno task sandbox`: the tests' fake Pluggy and Belvo with demo data, and what to type in the console.
import { parseArgs } from "node:util";
import { startFakeBelvo } from "../tests/fakes/belvo.ts";
import { startFakePluggy } from "../tests/fakes/pluggy.ts";
import { TextLineStream } from "../tests/support/text_lines.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "pluggy-port": { type: "string", default: "8401" },
    "belvo-port": { type: "string", default: "8402" },
    console: { type: "string", default: "http://127.0.0.1:8080/console" },
  },
});
const port = (text: string) => {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    console.error(`sandbox: ${text} is not a port`);
    Deno.exit(2);
  }
  return Number(text);
};

// Fixed seeds: the ids below are the same on every run. Small pages, so a pull takes several.
const pluggy = await startFakePluggy({
  port: port(values["pluggy-port"]),
  pageSize: 50,
  items: [{
    accounts: [{ type: "BANK", transactions: 140 }, { type: "CREDIT", transactions: 45 }],
  }],
});
const belvo = await startFakeBelvo({
  port: port(values["belvo-port"]),
  defaultPageSize: 50,
  links: [{ accounts: [{ transactions: 90 }, { category: "CREDIT_CARD", transactions: 30 }] }],
});
const item = pluggy.items[0];
const link = belvo.links[0];

console.log(
  `Sandbox: a fake Pluggy on ${pluggy.url} and a fake Belvo on ${belvo.url}, with demo data.

1. Start the service allowed to call them (plain http, to these two addresses only):

   MATCHER_EGRESS_ALLOW_HOSTS=${pluggy.host},${belvo.host} MATCHER_EGRESS_ALLOW_HTTP=true npx -y deno@2.9.6 task start

2. Open ${values.console}, sign in, choose New connection, and fill in:

   Pluggy   Type: Pluggy
            Base URL: ${pluggy.url}
            Account reference: ${item.id}
            Client id: fake-client-id
            Secret: fake-client-secret

   Belvo    Type: Belvo
            Base URL: ${belvo.url}
            Account reference: ${link.id}
            Client id: fake-secret-id
            Secret: fake-secret-password

3. On the connection's page, Test it; under Pulls, Pull now. Then mint a webhook URL there and
   paste it here (then Enter): the fake vendor adds 3 transactions and delivers the webhook
   announcing them, which queues a pull.

Ctrl-C stops the sandbox.`,
);

/** Adds transactions at the vendor the URL is for and delivers the webhook that announces them. */
async function deliver(url: string): Promise<string> {
  const vendor = /\/v1\/discovery\/webhooks\/(pluggy|belvo)\/[^/]+$/.exec(new URL(url).pathname)
    ?.[1];
  if (vendor === "pluggy") {
    const accountId = item.accounts[0].id;
    const [first] = pluggy.addTransactions(accountId, 3);
    const payload = pluggy.webhooks.transactionsCreated({
      itemId: item.id,
      accountId,
      transactionsCreatedAtFrom: first.createdAt,
    });
    const res = await pluggy.sendWebhook(url, payload);
    return `${res.status} ${await res.text()}`;
  }
  if (vendor === "belvo") {
    belvo.addTransactions(link.id, 3);
    const payload = belvo.webhooks.newTransactionsAvailable({ linkId: link.id, count: 3 });
    const res = await belvo.sendWebhook(url, payload);
    return `${res.status} ${await res.text()}`;
  }
  return "not a webhook URL of this service: .../v1/discovery/webhooks/<pluggy|belvo>/<token>";
}

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).pipeThrough(
  new TextLineStream(),
);
for await (const line of lines) {
  const url = line.trim();
  if (!url) continue;
  try {
    console.log(`webhook delivered: ${await deliver(url)}`);
  } catch (err) {
    console.log(`webhook not delivered: ${err instanceof Error ? err.message : err}`);
  }
}
// Standard input closed (no terminal, or Ctrl-D): the fakes keep serving until Ctrl-C.
await new Promise(() => {});
