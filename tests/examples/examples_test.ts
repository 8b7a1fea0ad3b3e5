// The consumers in examples/, run as a user runs them, against the service and the real broker:
// each ends with the tenant's live transactions; the feed consumer goes on from its saved cursor,
// the bus consumer ignores a duplicate and dead-letters what is not an event.
import assert from "node:assert/strict";
import { Connection } from "rabbitmq-client";
import { deliver, wirePluggy } from "../support/pulls.ts";
import { bindQueue, createVhost } from "../support/rabbitmq.ts";
import { waitFor } from "../support/service.ts";
import type { Json } from "../support/vendor_calls.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** `deno run` of an example with only the given environment; answers its last line, parsed. */
async function runExample(file: string, env: Record<string, string>, args: string[] = []) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      `${ROOT}deno.json`,
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      `${ROOT}examples/${file}`,
      ...args,
    ],
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `${file}: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

async function settle(w: { pull(id: string): Promise<Json> }, pullId: string) {
  await waitFor(`pull ${pullId}`, async () => (await w.pull(pullId)).status === "succeeded");
}

Deno.test("the example consumers of the feed and of the bus each end with the live transactions", async () => {
  const vhost = await createVhost();
  const w = await wirePluggy({ pageSize: 9 }, {
    events: { amqpUrl: vhost.url(), relay: { pollMs: 100 } },
  });
  const dir = await Deno.makeTempDir({ prefix: "matcher-examples-" });
  // The bus consumer's queue exists before the first pull's event, as a user binds it before; the
  // audit records of the connection and its token, written while wiring, are published before.
  const wiring = await waitFor("the wiring's events published", async () => {
    const [r] = await w.h.sql`select count(*)::int as n, count(sent_at)::int as sent
                              from event_outbox`;
    return r.n > 0 && r.n === r.sent && (r.n as number);
  });
  const busEnv = {
    AMQP_URL: vhost.url(),
    QUEUE: "example-consumer",
    STATE_FILE: `${dir}/bus.json`,
    IDLE_EXIT_MS: "2500",
  };
  await runExample("bus_consumer.ts", { ...busEnv, IDLE_EXIT_MS: "1" });
  const watcher = await bindQueue(vhost.url());
  try {
    const account = w.fake.items[0].accounts[0].id;
    await settle(
      w,
      (await deliver(w, w.fake.webhooks.itemUpdated({ itemId: w.accountRef })))
        .body.pullId,
    );
    const feedEnv = {
      MATCHER_URL: w.h.baseUrl,
      MATCHER_TOKEN: await w.h.token(w.tenant),
      STATE_FILE: `${dir}/feed.json`,
    };
    // The feed lags (never skips) while any transaction on the server that began earlier is open:
    // other suites' databases share this server.
    const stored = (await w.transactions()).length;
    let first = { applied: 0, transactions: 0 };
    await waitFor("the feed consumer's first run", async () => {
      const run = await runExample("feed_consumer.ts", feedEnv, ["--once"]);
      first = { applied: first.applied + run.applied, transactions: run.transactions };
      return run.transactions === stored;
    });

    const changed = w.fake.transactions(account).slice(0, 2).map((t) => t.id);
    w.fake.updateTransactions(changed);
    await settle(
      w,
      (await deliver(
        w,
        w.fake.webhooks.transactionsUpdated({
          itemId: w.accountRef,
          accountId: account,
          transactionIds: changed,
        }),
      )).body.pullId,
    );
    const gone = w.fake.transactions(account).slice(4, 5).map((t) => t.id);
    w.fake.deleteTransactions(gone);
    await settle(
      w,
      (await deliver(
        w,
        w.fake.webhooks.transactionsDeleted({
          itemId: w.accountRef,
          accountId: account,
          transactionIds: gone,
        }),
      )).body.pullId,
    );
    const live = await w.transactions();
    const byId = new Map(live.map((t: Json) => [t.id, t]));
    const holds = (copy: Record<string, Json>) =>
      Object.keys(copy).length === live.length &&
      Object.entries(copy).every(([id, t]) => JSON.stringify(t) === JSON.stringify(byId.get(id)));

    // The feed consumer goes on from its saved cursor: only the three changes since.
    const second = await waitFor("the feed consumer to catch up", async () => {
      const run = await runExample("feed_consumer.ts", feedEnv, ["--once"]);
      const saved = JSON.parse(await Deno.readTextFile(feedEnv.STATE_FILE));
      return holds(saved.transactions) && run;
    });
    assert.equal(first.applied, stored, "each change read once over the runs");
    assert.ok(second.applied <= 3, `read ${second.applied} changes after its cursor`);

    // Everything published; one event again (a redelivery) and one that is no event.
    await waitFor("every event confirmed", async () => {
      const [r] = await w.h.sql`select count(*)::int as n from event_outbox where sent_at is null`;
      return r.n === 0;
    });
    await watcher.until("the events", (m) => m.length > 0);
    const rabbit = new Connection(vhost.url());
    rabbit.on("error", () => {});
    const pub = rabbit.createPublisher({ confirm: true });
    const again = watcher.messages.find((m) => m.routingKey === "discovery.transactions.changed")!;
    await pub.send({
      exchange: "matcher.events",
      routingKey: again.routingKey,
      messageId: again.messageId,
      contentType: "application/json",
    }, again.body);
    await pub.send(
      { exchange: "matcher.events", routingKey: "discovery.junk", messageId: "x" },
      "{",
    );
    const bus = await runExample("bus_consumer.ts", busEnv);
    const saved = JSON.parse(await Deno.readTextFile(busEnv.STATE_FILE));
    assert.ok(holds(saved.transactions), "the bus consumer holds the live transactions");
    const [{ events }] = await w.h.sql`select count(*)::int as events from event_outbox`;
    assert.equal(bus.applied, events - wiring, "each event applied once, the duplicate skipped");
    await waitFor("the junk message dead-lettered", async () => {
      const { messageCount } = await rabbit.queueDeclare({
        queue: "matcher.events.dlq",
        passive: true,
      });
      return messageCount === 1;
    });
    await pub.close();
    await rabbit.close();
  } finally {
    await watcher.close();
    await w.close();
    await vhost.delete();
    await Deno.remove(dir, { recursive: true });
  }
});
