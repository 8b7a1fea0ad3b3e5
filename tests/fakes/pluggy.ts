// A fake Pluggy API server: auth with real JWTs, items, accounts, both transaction listings, and
// the webhook API with deliveries carrying each webhook's custom headers.
import { jwtVerify, SignJWT } from "jose";
import { type FakeServer, json, startFakeServer } from "./server.ts";
import {
  accountIdentity,
  type PluggyAccountState,
  type PluggyAccountType,
  pluggyError,
  type PluggyItemState,
  renderAccount,
  renderItem,
} from "./pluggy_data.ts";
import { type PluggyTransaction, renderTransaction } from "./pluggy_transaction.ts";
import {
  appendEntries,
  generateLedger,
  HISTORY_START_MS,
  type LedgerEntry,
  mulberry32,
  randomInt,
  randomUuid,
  reviseEntry,
} from "./random.ts";
import { listCursorPage, listPage, type TransactionQuery } from "./pluggy_listing.ts";
import { type PluggyWebhookBuilders, pluggyWebhooks } from "./pluggy_webhooks.ts";
import {
  type PluggyWebhookRegistration,
  pluggyWebhookRegistry,
} from "./pluggy_webhook_registry.ts";

export type { PluggyTransaction } from "./pluggy_transaction.ts";

/** An application's API credentials. */
export interface FakePluggyClient {
  clientId: string;
  clientSecret: string;
  /** A disabled application gets 403 CLIENT_DISABLED from POST /auth. */
  disabled?: boolean;
}

/** One item to create; ids are drawn from the seed when absent. */
export interface FakePluggyItemOptions {
  id?: string;
  clientUserId?: string;
  /** Item `status`; default "UPDATED". */
  status?: string;
  accounts?: Array<{ id?: string; type?: PluggyAccountType; transactions?: number }>;
}

/** Options of `startFakePluggy`. */
export interface FakePluggyOptions {
  /** Seed of every generated id, amount, date and description; default 1. */
  seed?: number;
  clients?: FakePluggyClient[];
  /** Default: one item with a BANK account of 25 transactions and a CREDIT account of 10. */
  items?: FakePluggyItemOptions[];
  /** Lifetime of issued API keys; default 7200 (Pluggy's 2 hours). */
  apiKeyTtlSeconds?: number;
  /**
   * A careless vendor: POST /auth's 401 repeats the keys it received, so that a client relaying
   * the vendor's words would leak them (the secret canary suite turns this on). Default false.
   */
  echoCredentials?: boolean;
  /** Page size of GET /v2/transactions; default 500 (Pluggy's page maximum). */
  pageSize?: number;
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
  /**
   * Clock for JWT iat/exp, key validity and transactions added later; default Date.now. pluggy-sdk
   * judges expiry by the real clock, so keep this near real time when an SDK is the client.
   */
  now?: () => number;
}

/** Summary of an item and its accounts, for tests to find ids. */
export interface FakePluggyItemSummary {
  id: string;
  clientUserId: string;
  accounts: Array<{ id: string; type: PluggyAccountType }>;
}

/** A running fake Pluggy API. */
export interface FakePluggy extends FakeServer {
  /** Successful POST /auth calls so far. */
  readonly authCount: number;
  /** Makes every API key issued so far answer 401 from now on. */
  expireApiKeys(): void;
  readonly items: FakePluggyItemSummary[];
  /** Accounts of an item as GET /accounts returns them. */
  accounts(itemId: string): Record<string, unknown>[];
  /** What the API lists for the account, in API order (createdAt ascending, then id). */
  transactions(accountId: string): PluggyTransaction[];
  /** Adds transactions created at the fake clock's now; returns them in API order. */
  addTransactions(accountId: string, count: number): PluggyTransaction[];
  /** Changes description and amount and bumps updatedAt; returns the updated transactions. */
  updateTransactions(ids: string[]): PluggyTransaction[];
  /** Removes transactions from every listing. */
  deleteTransactions(ids: string[]): void;
  readonly webhooks: PluggyWebhookBuilders;
  /** The webhooks registered through `POST /webhooks`, with the headers each was given. */
  readonly webhookRegistrations: readonly PluggyWebhookRegistration[];
  /** Sends an event to every registered webhook of its event (or `all`), with their headers. */
  notify(payload: Record<string, unknown>): Promise<Array<{ url: string; status: number }>>;
}

/** Keeps a Pluggy item id from equalling the Belvo link id made from the same seed. */
const SALT = 0x504c5547;
const DEFAULT_CLIENT: FakePluggyClient = {
  clientId: "fake-client-id",
  clientSecret: "fake-client-secret",
};
const DEFAULT_ITEMS: FakePluggyItemOptions[] = [
  { accounts: [{ type: "BANK", transactions: 25 }, { type: "CREDIT", transactions: 10 }] },
];

/** Starts a fake Pluggy API on 127.0.0.1; see `FakePluggy`. */
export function startFakePluggy(options: FakePluggyOptions = {}): Promise<FakePluggy> {
  const random = mulberry32((options.seed ?? 1) ^ SALT);
  const now = options.now ?? Date.now;
  const clients = options.clients ?? [DEFAULT_CLIENT];
  const ttl = options.apiKeyTtlSeconds ?? 7200;
  const v2PageSize = options.pageSize ?? 500;
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const issued = new Set<string>();
  const revoked = new Set<string>();
  let authCount = 0;

  const items: PluggyItemState[] = (options.items ?? DEFAULT_ITEMS).map((spec) => {
    const id = spec.id ?? randomUuid(random);
    const createdAtMs = HISTORY_START_MS - randomInt(random, 1, 30) * 86_400_000;
    const accounts = (spec.accounts ?? []).map((a): PluggyAccountState => {
      const type = a.type ?? "BANK";
      return {
        id: a.id ?? randomUuid(random),
        itemId: id,
        type,
        createdAtMs,
        ...accountIdentity(random, type),
        entries: generateLedger(random, a.transactions ?? 0, randomInt(random, 0, 500_000)),
      };
    });
    return {
      id,
      clientUserId: spec.clientUserId ?? `user-${id.slice(0, 8)}`,
      status: spec.status ?? "UPDATED",
      executionStatus: "SUCCESS",
      createdAtMs,
      accounts,
    };
  });
  const accountsById = new Map(items.flatMap((i) => i.accounts).map((a) => [a.id, a]));
  const byTxId = new Map<string, { entry: LedgerEntry; account: PluggyAccountState }>();
  for (const account of accountsById.values()) {
    for (const entry of account.entries) byTxId.set(entry.id, { entry, account });
  }

  const registry = pluggyWebhookRegistry({
    now,
    send: (url, payload, headers) => server.sendWebhook(url, payload, headers),
  });

  const error = (status: number, message: string, codeDescription?: string) =>
    json({ code: status, ...(codeDescription ? { codeDescription } : {}), message }, status);

  async function authenticate(request: Request): Promise<Response> {
    let body: Record<string, unknown>;
    try {
      body = await request.json();
    } catch {
      return error(400, "Request body must be valid JSON");
    }
    if (
      body === null || typeof body.clientId !== "string" || typeof body.clientSecret !== "string"
    ) {
      return error(400, "clientId and clientSecret are required");
    }
    const client = clients.find((c) =>
      c.clientId === body.clientId && c.clientSecret === body.clientSecret
    );
    if (!client) {
      const echo = options.echoCredentials ? `: ${body.clientId} / ${body.clientSecret}` : "";
      return error(401, `Client keys are invalid${echo}`, "CLIENT_KEYS_UNAUTHORIZED");
    }
    if (client.disabled) return error(403, "Client is disabled", "CLIENT_DISABLED");
    const iat = Math.floor(now() / 1000);
    const jti = crypto.randomUUID();
    let jwt = new SignJWT({ clientId: client.clientId })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt(iat)
      .setJti(jti)
      .setSubject(client.clientId);
    if (body.nonExpiring !== true) jwt = jwt.setExpirationTime(iat + ttl);
    issued.add(jti);
    authCount += 1;
    return json({ apiKey: await jwt.sign(secret) });
  }

  async function authorized(request: Request): Promise<boolean> {
    const key = request.headers.get("x-api-key");
    if (!key) return false;
    try {
      const { payload } = await jwtVerify(key, secret, {
        currentDate: new Date(now()),
        algorithms: ["HS256"],
      });
      return typeof payload.jti === "string" && issued.has(payload.jti) &&
        !revoked.has(payload.jti);
    } catch {
      return false;
    }
  }

  function listTransactions(url: URL, cursor: boolean): Response {
    const query: TransactionQuery = {
      params: url.searchParams,
      accountsById,
      byTxId,
      render: renderTransaction,
    };
    const result = cursor
      ? listCursorPage(query, v2PageSize, new URL("/v2/transactions", server.url))
      : listPage(query);
    return "error" in result ? error(result.error.status, result.error.message) : json(result.body);
  }

  function listAccounts(url: URL): Response {
    const itemId = url.searchParams.get("itemId");
    const type = url.searchParams.get("type");
    if (!itemId) return error(400, "itemId is required");
    if (type !== null && type !== "BANK" && type !== "CREDIT") {
      return error(400, "type must be one of BANK, CREDIT");
    }
    const item = items.find((i) => i.id === itemId);
    if (!item) return error(404, "Item not found");
    const results = item.accounts.filter((a) => type === null || a.type === type);
    return json({
      total: results.length,
      totalPages: 1,
      page: 1,
      results: results.map(renderAccount),
    });
  }

  async function handle(request: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    if (path === "/auth") {
      return request.method === "POST"
        ? await authenticate(request)
        : error(405, "Method Not Allowed");
    }
    if (!(await authorized(request))) return error(401, "Missing or invalid API key");
    const webhookApi = registry.handle(request, path);
    if (webhookApi) return await webhookApi;
    if (request.method !== "GET") return error(404, "Not Found");
    if (path === "/accounts") return listAccounts(url);
    if (path === "/transactions") return listTransactions(url, false);
    if (path === "/v2/transactions") return listTransactions(url, true);
    const [, kind, id] = path.match(/^\/(items|accounts|transactions)\/([^/]+)$/) ?? [];
    if (kind === "items") {
      const item = items.find((i) => i.id === id);
      return item ? json(renderItem(item)) : error(404, "Item not found");
    }
    if (kind === "accounts") {
      const account = accountsById.get(id);
      return account ? json(renderAccount(account)) : error(404, "Account not found");
    }
    if (kind === "transactions") {
      const found = byTxId.get(id);
      return found
        ? json(renderTransaction(found.account, found.entry))
        : error(404, "Transaction not found");
    }
    return error(404, "Not Found");
  }

  const server = startFakeServer({
    handle,
    vendorError: pluggyError,
    webhookTimeoutMs: 10_000,
    port: options.port,
  });

  function account(accountId: string): PluggyAccountState {
    const found = accountsById.get(accountId);
    if (!found) throw new Error(`fake Pluggy has no account ${accountId}`);
    return found;
  }

  return Promise.resolve({
    ...server,
    get authCount() {
      return authCount;
    },
    expireApiKeys() {
      for (const jti of issued) revoked.add(jti);
    },
    get items(): FakePluggyItemSummary[] {
      return items.map((i) => ({
        id: i.id,
        clientUserId: i.clientUserId,
        accounts: i.accounts.map((a) => ({ id: a.id, type: a.type })),
      }));
    },
    accounts(itemId: string) {
      return (items.find((i) => i.id === itemId)?.accounts ?? []).map(renderAccount);
    },
    transactions(accountId: string) {
      const a = account(accountId);
      return a.entries.map((e) => renderTransaction(a, e));
    },
    addTransactions(accountId: string, count: number) {
      const a = account(accountId);
      const added = appendEntries(random, a.entries, count, now());
      for (const entry of added) byTxId.set(entry.id, { entry, account: a });
      return added.map((e) => renderTransaction(a, e));
    },
    updateTransactions(ids: string[]) {
      return ids.map((id) => {
        const found = byTxId.get(id);
        if (!found) throw new Error(`fake Pluggy has no transaction ${id}`);
        reviseEntry(random, found.entry, now());
        return renderTransaction(found.account, found.entry);
      });
    },
    deleteTransactions(ids: string[]) {
      for (const id of ids) {
        const found = byTxId.get(id);
        if (!found) continue;
        byTxId.delete(id);
        const list = found.account.entries;
        list.splice(list.indexOf(found.entry), 1);
      }
    },
    get webhookRegistrations() {
      return registry.registrations;
    },
    notify: (payload) => registry.notify(payload),
    webhooks: pluggyWebhooks({
      baseUrl: server.url,
      clientId: clients[0]?.clientId ?? DEFAULT_CLIENT.clientId,
      clientUserId: (itemId) => items.find((i) => i.id === itemId)?.clientUserId ?? null,
      createdSince: (accountId, fromMs) =>
        accountsById.get(accountId)?.entries.filter((e) => e.createdAtMs >= fromMs).length ?? 0,
    }),
  });
}
