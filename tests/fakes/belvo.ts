// A fake Belvo API server: HTTP Basic auth, links, accounts and paginated transactions.
import { type FakeServer, json, startFakeServer } from "./server.ts";
import {
  type BelvoAccountCategory,
  type BelvoAccountState,
  belvoError,
  belvoErrorItem,
  type BelvoLinkState,
  type BelvoTransaction,
  type Placed,
  renderBelvoAccount,
  renderBelvoTransaction,
  renderLink,
} from "./belvo_data.ts";
import { paginate, transactionFilters, uuidParam } from "./belvo_listing.ts";
import { type BelvoWebhookBuilders, belvoWebhooks } from "./belvo_webhooks.ts";
import {
  appendEntries,
  brtDay,
  compareEntries,
  generateLedger,
  HISTORY_START_MS,
  insertBy,
  mulberry32,
  randomDigits,
  randomInt,
  randomUuid,
  reviseEntry,
} from "./random.ts";

export type { BelvoTransaction } from "./belvo_data.ts";

/** A secret key pair accepted by the fake. */
export interface FakeBelvoSecret {
  secretId: string;
  secretPassword: string;
}

/** One link to create; ids are drawn from the seed when absent. */
export interface FakeBelvoLinkOptions {
  id?: string;
  /** Default "erebor_br_retail" (amounts in BRL). */
  institution?: string;
  externalId?: string | null;
  accounts?: Array<{ id?: string; category?: BelvoAccountCategory; transactions?: number }>;
}

/** Options of `startFakeBelvo`. */
export interface FakeBelvoOptions {
  /** Seed of every generated id, amount, date and description; default 1. */
  seed?: number;
  secrets?: FakeBelvoSecret[];
  /** Default: one link with a checking account of 25 transactions and a credit card of 10. */
  links?: FakeBelvoLinkOptions[];
  /**
   * A careless vendor: a 401 repeats the Authorization header it received and its decoded id and
   * password, so that a client relaying the vendor's words would leak them. Default false.
   */
  echoCredentials?: boolean;
  /** `page_size` when the request has none; default 100 (Belvo's). */
  defaultPageSize?: number;
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
  /** Clock for transactions added later; default Date.now. */
  now?: () => number;
}

/** Summary of a link and its accounts, for tests to find ids. */
export interface FakeBelvoLinkSummary {
  id: string;
  institution: string;
  accounts: Array<{ id: string; category: BelvoAccountCategory }>;
}

/** A running fake Belvo API. */
export interface FakeBelvo extends FakeServer {
  /** Successful logins: GET /api/ with valid secrets (what the SDK's connect() calls). */
  readonly authCount: number;
  readonly links: FakeBelvoLinkSummary[];
  /** Accounts of a link as GET /api/accounts/ returns them. */
  accounts(linkId: string): Record<string, unknown>[];
  /** What GET /api/transactions/?link= lists, in API order (created_at ascending, then id). */
  transactions(linkId: string): BelvoTransaction[];
  /** Adds transactions created now, to the account or to the link's first account. */
  addTransactions(linkOrAccountId: string, count: number): BelvoTransaction[];
  /** Changes description and amount and bumps collected_at; returns the updated transactions. */
  updateTransactions(ids: string[]): BelvoTransaction[];
  /** Removes transactions from every listing. */
  deleteTransactions(ids: string[]): void;
  readonly webhooks: BelvoWebhookBuilders;
}

/** Keeps a Belvo link id from equalling the Pluggy item id made from the same seed. */
const SALT = 0x42454c56;
const DEFAULT_SECRET: FakeBelvoSecret = {
  secretId: "fake-secret-id",
  secretPassword: "fake-secret-password",
};
const DEFAULT_LINKS: FakeBelvoLinkOptions[] = [
  { accounts: [{ transactions: 25 }, { category: "CREDIT_CARD", transactions: 10 }] },
];
const byPosition = (a: Placed, b: Placed) => compareEntries(a.entry, b.entry);

/** Starts a fake Belvo API on 127.0.0.1; see `FakeBelvo`. */
export function startFakeBelvo(options: FakeBelvoOptions = {}): Promise<FakeBelvo> {
  const random = mulberry32((options.seed ?? 1) ^ SALT);
  const now = options.now ?? Date.now;
  const secrets = options.secrets ?? [DEFAULT_SECRET];
  const defaultPageSize = options.defaultPageSize ?? 100;
  let authCount = 0;

  const links: BelvoLinkState[] = (options.links ?? DEFAULT_LINKS).map((spec) => {
    const id = spec.id ?? randomUuid(random);
    const institution = spec.institution ?? "erebor_br_retail";
    const createdAtMs = HISTORY_START_MS - randomInt(random, 1, 30) * 86_400_000;
    const accounts = (spec.accounts ?? []).map((a): BelvoAccountState => ({
      id: a.id ?? randomUuid(random),
      linkId: id,
      institution,
      category: a.category ?? "CHECKING_ACCOUNT",
      number: randomDigits(random, 8),
      agency: randomDigits(random, 4),
      createdAtMs,
      entries: generateLedger(random, a.transactions ?? 0, randomInt(random, 0, 500_000)),
    }));
    const placed = accounts.flatMap((account) =>
      account.entries.map((entry) => ({ entry, account }))
    );
    return {
      id,
      institution,
      externalId: spec.externalId ?? null,
      institutionUserId: btoa(
        String.fromCharCode(...Array.from({ length: 32 }, () => randomInt(random, 0, 255))),
      ),
      createdAtMs,
      accounts,
      placed: placed.sort(byPosition),
    };
  });
  const accountsById = new Map(links.flatMap((l) => l.accounts).map((a) => [a.id, a]));
  const linkOf = (a: BelvoAccountState) => links.find((l) => l.id === a.linkId)!;
  const byTxId = new Map<string, Placed>();
  for (const link of links) for (const p of link.placed) byTxId.set(p.entry.id, p);

  /** Renders placed entries, rendering each account once per call. */
  function renderer() {
    const cache = new Map<string, Record<string, unknown>>();
    return (p: Placed) => {
      let account = cache.get(p.account.id);
      if (!account) cache.set(p.account.id, account = renderBelvoAccount(p.account));
      return renderBelvoTransaction(p.account, account, p.entry);
    };
  }

  function decodeBasic(header: string): string {
    try {
      return atob(header.replace(/^Basic\s+/i, ""));
    } catch {
      return "";
    }
  }

  function authorized(request: Request): boolean {
    const header = request.headers.get("authorization") ?? "";
    const m = header.match(/^Basic\s+(.+)$/i);
    if (!m) return false;
    let decoded: string;
    try {
      decoded = atob(m[1]);
    } catch {
      return false;
    }
    const colon = decoded.indexOf(":");
    const [id, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    return colon > 0 && secrets.some((s) => s.secretId === id && s.secretPassword === password);
  }

  const errors = (status: number, list: unknown[]) => json(list, status);
  const notFound = () => errors(404, [belvoErrorItem("not_found", "Not found")]);

  function list<T>(url: URL, items: T[], render: (item: T) => unknown): Response {
    const result = paginate(url, server.url, items, defaultPageSize, render);
    return "body" in result ? json(result.body) : errors(result.status, result.errors);
  }

  function listTransactions(url: URL): Response {
    const problems: unknown[] = [];
    if (!url.searchParams.get("link")) {
      problems.push(belvoErrorItem("required", "This field is required.", "link"));
    }
    const linkId = uuidParam(url.searchParams, "link", problems);
    const tests = transactionFilters(url.searchParams);
    if (!Array.isArray(tests)) problems.push(...tests.errors);
    if (problems.length > 0 || !Array.isArray(tests)) return errors(400, problems);
    const placed = links.find((l) => l.id === linkId)?.placed ?? [];
    const matching = tests.length === 0 ? placed : placed.filter((p) => tests.every((t) => t(p)));
    return list(url, matching, renderer());
  }

  function handle(request: Request, url: URL): Response {
    const path = url.pathname;
    if (!path.startsWith("/api/")) return notFound();
    if (!authorized(request)) {
      const header = request.headers.get("authorization") ?? "";
      const echo = options.echoCredentials
        ? [belvoErrorItem("received", `${header} (${decodeBasic(header)})`)]
        : [];
      return errors(401, [...belvoError(401).body as unknown[], ...echo]);
    }
    if (request.method !== "GET") {
      return errors(405, [
        belvoErrorItem("method_not_allowed", `Method "${request.method}" not allowed.`),
      ]);
    }
    if (path === "/api/") {
      authCount += 1;
      const root = ["links", "accounts", "transactions", "owners", "balances", "institutions"];
      return json(Object.fromEntries(root.map((r) => [r, `${server.url}/api/${r}/`])));
    }
    if (path === "/api/links/") return list(url, links, renderLink);
    if (path === "/api/accounts/") {
      const problems: unknown[] = [];
      const linkId = uuidParam(url.searchParams, "link", problems);
      if (problems.length > 0) return errors(400, problems);
      const accounts = [...accountsById.values()].filter((a) =>
        linkId === null || a.linkId === linkId
      );
      return list(url, accounts, renderBelvoAccount);
    }
    if (path === "/api/transactions/") return listTransactions(url);
    const m = path.match(/^\/api\/(links|accounts|transactions)\/([^/]+)\/$/);
    if (!m) return notFound();
    const id = m[2].toLowerCase();
    if (m[1] === "links") {
      const link = links.find((l) => l.id === id);
      return link ? json(renderLink(link)) : notFound();
    }
    if (m[1] === "accounts") {
      const account = accountsById.get(id);
      return account ? json(renderBelvoAccount(account)) : notFound();
    }
    const p = byTxId.get(id);
    return p ? json(renderer()(p)) : notFound();
  }

  const server = startFakeServer({
    handle,
    vendorError: belvoError,
    webhookTimeoutMs: 5_000,
    port: options.port,
  });

  function link(linkId: string): BelvoLinkState {
    const found = links.find((l) => l.id === linkId);
    if (!found) throw new Error(`fake Belvo has no link ${linkId}`);
    return found;
  }

  return Promise.resolve({
    ...server,
    get authCount() {
      return authCount;
    },
    get links(): FakeBelvoLinkSummary[] {
      return links.map((l) => ({
        id: l.id,
        institution: l.institution,
        accounts: l.accounts.map((a) => ({ id: a.id, category: a.category })),
      }));
    },
    accounts: (linkId: string) => link(linkId).accounts.map(renderBelvoAccount),
    transactions: (linkId: string) => link(linkId).placed.map(renderer()),
    addTransactions(linkOrAccountId: string, count: number) {
      const account = accountsById.get(linkOrAccountId) ?? link(linkOrAccountId).accounts[0];
      if (!account) throw new Error(`fake Belvo link ${linkOrAccountId} has no account`);
      const added = appendEntries(random, account.entries, count, now()).map((entry) => ({
        entry,
        account,
      }));
      for (const p of added) {
        insertBy(linkOf(account).placed, p, byPosition);
        byTxId.set(p.entry.id, p);
      }
      return added.map(renderer());
    },
    updateTransactions(ids: string[]) {
      const render = renderer();
      return ids.map((id) => {
        const p = byTxId.get(id);
        if (!p) throw new Error(`fake Belvo has no transaction ${id}`);
        reviseEntry(random, p.entry, now());
        return render(p);
      });
    },
    deleteTransactions(ids: string[]) {
      for (const id of ids) {
        const p = byTxId.get(id);
        if (!p) continue;
        byTxId.delete(id);
        p.account.entries.splice(p.account.entries.indexOf(p.entry), 1);
        const placed = linkOf(p.account).placed;
        placed.splice(placed.indexOf(p), 1);
      }
    },
    webhooks: belvoWebhooks({
      externalId: (linkId) => links.find((l) => l.id === linkId)?.externalId ?? null,
      history(linkId) {
        const placed = links.find((l) => l.id === linkId)?.placed ?? [];
        const days = placed.map((p) => brtDay(p.entry.dateMs)).sort();
        const inflow = placed.filter((p) => p.entry.credit).length;
        return {
          total_transactions: placed.length,
          total_inflow_transactions: inflow,
          total_outflow_transactions: placed.length - inflow,
          first_transaction_date: days[0] ?? null,
          last_transaction_date: days.at(-1) ?? null,
        };
      },
    }),
  });
}
