// A harness wired to a fake vendor, with a connection and a minted webhook token, for pull tests.
import assert from "node:assert/strict";
import { type FakeBelvo, type FakeBelvoOptions, startFakeBelvo } from "../fakes/belvo.ts";
import { type FakePluggy, type FakePluggyOptions, startFakePluggy } from "../fakes/pluggy.ts";
import { type Harness, type HarnessOptions, newTenant, startHarness } from "./harness.ts";
import type { Json } from "./vendor_calls.ts";

export interface Wired<F> {
  fake: F;
  h: Harness;
  tenant: string;
  connectionId: string;
  accountRef: string;
  webhookUrl: string;
  token: string;
  /** GET as the tenant, parsed; asserts the status. */
  get(path: string, status?: number): Promise<Json>;
  /** Every stored live transaction of the connection, through the API's pages. */
  transactions(): Promise<Json[]>;
  /** The pull, through the API. */
  pull(id: string): Promise<Json>;
  /** Another connection of the tenant on the same fake, with a minted webhook token. */
  addConnection(
    configName: string,
    accountRef: string,
  ): Promise<{ connectionId: string; webhookUrl: string }>;
  close(): Promise<void>;
}

/** A mutable clock starting now; tests move it forward to bring retries and lease expiries due. */
export function testClock(start = Date.now()) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Harness options, or a function of the started fake that answers them. */
export type WireOptions<F> =
  | (HarnessOptions & { secret?: string })
  | ((fake: F) => HarnessOptions & { secret?: string });

async function wire<F extends FakePluggy | FakeBelvo>(
  fake: F,
  vendor: "pluggy" | "belvo",
  accountRef: string,
  options: WireOptions<F>,
): Promise<Wired<F>> {
  const { secret, ...harnessOptions } = typeof options === "function" ? options(fake) : options;
  const h = await startHarness({
    egress: { allowHosts: [fake.host], allowHttp: true },
    ...harnessOptions,
  });
  const tenant = newTenant();
  const credential = vendor === "pluggy"
    ? { clientId: "fake-client-id", secret: secret ?? "fake-client-secret" }
    : { clientId: "fake-secret-id", secret: secret ?? "fake-secret-password" };
  async function addConnection(configName: string, ref: string) {
    const created = await h.request("/v1/discovery/aggregator-connections", {
      method: "POST",
      tenant,
      json: { vendor, configName, baseUrl: fake.url, accountRef: ref, ...credential },
    });
    assert.equal(created.status, 201);
    const minted = await h.request("/v1/discovery/webhooks/tokens", {
      method: "POST",
      tenant,
      json: { vendor, connection_config_name: configName },
    });
    assert.equal(minted.status, 201);
    const { token, webhookUrl } = await minted.json();
    return { connectionId: (await created.json()).id as string, token, webhookUrl };
  }
  const { connectionId, token, webhookUrl } = await addConnection(`${vendor}-main`, accountRef);

  async function get(path: string, status = 200) {
    const res = await h.request(path, { tenant });
    const body = await res.json();
    assert.equal(res.status, status, JSON.stringify(body));
    return body;
  }
  return {
    fake,
    h,
    tenant,
    connectionId,
    accountRef,
    webhookUrl,
    token,
    get,
    async transactions() {
      const items: Json[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `&cursor=${cursor}` : "";
        const page: Json = await get(
          `/v1/discovery/aggregator-connections/${connectionId}/transactions?limit=200${query}`,
        );
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      return items;
    },
    pull: (id: string) => get(`/v1/discovery/pulls/${id}`),
    addConnection,
    async close() {
      await h.close();
      await fake.close();
    },
  };
}

export async function wirePluggy(
  fakeOptions: FakePluggyOptions = {},
  options: WireOptions<FakePluggy> = {},
): Promise<Wired<FakePluggy>> {
  const fake = await startFakePluggy(fakeOptions);
  return wire(fake, "pluggy", fake.items[0].id, options);
}

export async function wireBelvo(
  fakeOptions: FakeBelvoOptions = {},
  options: WireOptions<FakeBelvo> = {},
): Promise<Wired<FakeBelvo>> {
  const fake = await startFakeBelvo(fakeOptions);
  return wire(fake, "belvo", fake.links[0].id, options);
}

/** Delivers `payload` to the webhook URL and answers the status and parsed body. */
export async function deliver(
  w: Wired<FakePluggy | FakeBelvo>,
  payload: object,
  url = w.webhookUrl,
) {
  const res = await w.fake.sendWebhook(url, payload);
  return { status: res.status, body: await res.json() as Json };
}
