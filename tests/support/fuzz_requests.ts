// Turns an operation of openapi.yaml and the seeded state into one valid or deliberately broken request.
import type { Follower } from "./fuzz_idempotency.ts";
import type { Json, Operation } from "./openapi_check.ts";
import {
  badCursor,
  badId,
  badLimit,
  chance,
  type Hints,
  hugeString,
  NASTY_STRINGS,
  nastyString,
  pick,
  type Random,
  randomInt,
  randomText,
  validValue,
  wrongTypeValue,
} from "./fuzz_values.ts";

/** A connection the fuzzer must not break: pulls, tests and webhooks rely on it. */
export interface CoreConnection {
  id: string;
  vendor: "pluggy" | "belvo";
  configName: string;
  baseUrl: string;
  accountRef: string;
  clientId: string;
  secret: string;
}

/** What exists before the run: ids, names, tokens and cursors for requests to aim at. */
export interface FuzzState {
  core: CoreConnection[];
  /** Connections of the fuzzed tenant that may be updated or deleted. */
  disposable: string[];
  /** Ids of another tenant's rows: connections, pulls, webhook tokens. */
  foreign: string[];
  pulls: string[];
  /** Webhook token ids that may be revoked. */
  tokenIds: string[];
  /** Raw webhook tokens, by vendor; some revoked, some of deleted connections. */
  rawTokens: { pluggy: string[]; belvo: string[] };
  /** The header each token minted with a header secret needs, by token. */
  headerSecrets: Map<string, { name: string; value: string }>;
  cursors: string[];
  /** Cursors of the change feed (its `after`). */
  feedCursors: string[];
  /** Ids the audit trail has events about: connections, pulls, webhook tokens. */
  auditTargets: string[];
  accountIds: string[];
  baseUrls: string[];
  /** `Authorization` values: a valid one, another tenant's, and broken ones. */
  bearer: { valid: string; other: string; broken: string[] };
  metricsToken: string;
  /** Fresh, valid webhook payloads for the core connections. */
  webhookPayload: { pluggy: () => Record<string, unknown>; belvo: () => Record<string, unknown> };
}

export interface FuzzRequest {
  op: Operation;
  method: string;
  /** Path and query, encoded. */
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** A body sent as a stream (chunked, no Content-Length). */
  stream?: boolean;
  /** What was broken, for the failure message. */
  notes: string[];
  /** The bearer credential was broken on purpose: the answer must be 401. */
  badAuth: boolean;
  /** Requests the same worker sends right after this one (Idempotency-Key repeats). */
  followers?: Follower[];
  /**
   * A delivery to a token minted with a header secret: with that secret (`right`), or without it
   * (`wrong`: missing, another value or under another name), which must answer 404.
   */
  headerSecret?: "right" | "wrong";
}

/** Files the pages load, under /console/assets/ or /docs/assets/ (each is a 404 under the other). */
const ASSET_FILES = ["app.js", "console.css", "icon.svg", "swagger-ui-bundle.js", "docs.js"];

const JSON_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/vnd.api+json",
];
const OTHER_TYPES = [
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/xml",
  "application/jsonx",
  "json",
  "",
  "APPLICATION/JSON",
  "application/json ;charset=utf-8",
  "application/json; charset=latin1",
];
const MALFORMED_JSON = [
  "{",
  "}",
  '{"a":',
  '{"vendor":"pluggy",}',
  "{'vendor':'pluggy'}",
  "nul",
  "undefined",
  "\ufeff{}",
  '{"a":"\\x00"}',
  '{"a":"\\ud800"', // cut short
  "{}{}",
  "[",
  '"unterminated',
  "1e99999",
  '{"a":NaN}',
  "\u0000",
];

/** Lets the seeded state and the PRNG produce requests for any operation. */
export function requestMaker(r: Random, doc: Json, state: FuzzState) {
  const core = () => pick(r, state.core);
  const hints: Hints = {
    vendor: () => pick(r, ["pluggy", "belvo"]),
    configName: () =>
      chance(r, 0.3) ? core().configName : `fz-${randomText(r, randomInt(r, 3, 20))}`,
    connection_config_name: () => chance(r, 0.8) ? core().configName : randomText(r, 8),
    baseUrl: () => pick(r, state.baseUrls),
    accountRef: () => chance(r, 0.5) ? core().accountRef : randomText(r, 12),
    clientId: () => chance(r, 0.5) ? core().clientId : randomText(r, 20),
    secret: () => chance(r, 0.5) ? core().secret : randomText(r, 30),
  };

  function pathValue(
    op: Operation,
    name: string,
    notes: string[],
    earlier: Record<string, string>,
  ): string {
    if (name === "vendor") {
      if (chance(r, 0.85)) return pick(r, ["pluggy", "belvo"]);
      notes.push("bad vendor");
      return pick(r, ["PLUGGY", "belvo ", "other", "x".repeat(300), "🦜", "%00"]);
    }
    if (name === "token") {
      const vendorTokens = [...state.rawTokens.pluggy, ...state.rawTokens.belvo];
      if (chance(r, 0.7)) {
        // Mostly a token of the path's vendor, often one with a header secret (only 2 of ~46),
        // so that deliveries that pass every check, the second factor's included, are common.
        const own = state.rawTokens[earlier.vendor as "pluggy" | "belvo"];
        if (!own || chance(r, 0.2)) return pick(r, vendorTokens);
        const guarded = own.filter((t) => state.headerSecrets.has(t));
        return chance(r, 0.25) ? pick(r, guarded) : pick(r, own);
      }
      notes.push("bogus token");
      const real = pick(r, vendorTokens);
      return pick(r, [
        () => `mwh_${randomText(r, 43)}`,
        () => real.slice(0, -1),
        () => real + "x",
        () => real.toUpperCase(),
        () => nastyString(r) || "x",
        () => hugeString(r, 5_000),
      ])();
    }
    if (name === "file") {
      // The files the console's and the docs' pages load; a name that is not one of them is a 404.
      if (chance(r, 0.7)) return pick(r, ASSET_FILES);
      notes.push("no such file");
      return pick(r, ["../console.html", "console.html", "app.ts", ".env", "", "x".repeat(300)]) ||
        nastyString(r) || "x";
    }
    const valid = (): string => {
      if (name === "pullId") return pick(r, state.pulls);
      if (name === "tokenId") return pick(r, state.tokenIds);
      // A connection id: only requests that cannot change it aim at a core connection.
      if (op.method === "DELETE") return pick(r, state.disposable);
      if (op.method === "PUT" && chance(r, 0.6)) return pick(r, state.disposable);
      return pick(r, state.core).id;
    };
    const roll = r();
    if (roll < 0.7) return valid();
    if (roll < 0.8) {
      notes.push(`another tenant's ${name}`);
      return pick(r, state.foreign);
    }
    notes.push(`bad ${name}`);
    return badId(r);
  }

  function query(op: Operation, notes: string[]): string {
    const params = new URLSearchParams();
    for (const p of op.parameters.filter((p: Json) => p.in === "query")) {
      const roll = r();
      if (roll < 0.45) continue;
      if (roll < 0.75) {
        if (p.name === "limit") params.append("limit", String(randomInt(r, 1, 200)));
        else if (p.name === "cursor") params.append("cursor", pick(r, state.cursors));
        else if (p.name === "after") params.append("after", pick(r, state.feedCursors));
        else if (p.name === "connectionId") params.append(p.name, pick(r, state.core).id);
        else if (p.name === "targetId") params.append(p.name, pick(r, state.auditTargets));
        else if (p.name === "action") {
          params.append(p.name, validValue(r, p.schema, doc, hints) as string);
        } else params.append(p.name, pick(r, state.accountIds));
        continue;
      }
      notes.push(`bad ${p.name}`);
      // Capped so that the URL stays one the client sends.
      if (p.name === "limit") params.append("limit", badLimit(r).slice(0, 2_000));
      else if (p.name === "cursor") {
        params.append("cursor", badCursor(r, state.cursors).slice(0, 2_000));
      } else if (p.name === "after") {
        // The other lists' cursors too: each list's cursor is its own.
        params.append(
          "after",
          badCursor(r, [...state.feedCursors, ...state.cursors]).slice(0, 2_000),
        );
      } else if (p.name === "connectionId" || p.name === "targetId") {
        params.append(p.name, chance(r, 0.3) ? pick(r, state.foreign) : badId(r).slice(0, 2_000));
      } else if (p.name === "action") {
        const near = ["connection.renamed", "CONNECTION.CREATED", "connection.created ", "pull"];
        params.append(p.name, chance(r, 0.5) ? pick(r, near) : nastyString(r).slice(0, 2_000));
      } else params.append(p.name, chance(r, 0.5) ? "" : nastyString(r).slice(0, 2_000));
    }
    if (chance(r, 0.05)) {
      notes.push("extra query");
      const name = pick(r, ["foo", "limit", "cursor", "__proto__", "tenant_id"]);
      params.append(name, nastyString(r).slice(0, 2_000));
    }
    const text = params.toString();
    return text ? `?${text}` : "";
  }

  function authorization(op: Operation, notes: string[]): { value?: string; bad: boolean } {
    if (op.security === "metrics") {
      const roll = r();
      if (roll < 0.7) return { value: `Bearer ${state.metricsToken}`, bad: false };
      notes.push("wrong metrics token");
      return { value: roll < 0.85 ? state.bearer.valid : undefined, bad: false };
    }
    if (op.security === "none") {
      return { value: chance(r, 0.5) ? undefined : pick(r, state.bearer.broken), bad: false };
    }
    const roll = r();
    if (roll < 0.8) return { value: state.bearer.valid, bad: false };
    if (roll < 0.88) {
      notes.push("other tenant");
      return { value: state.bearer.other, bad: false };
    }
    notes.push("bad bearer");
    return { value: chance(r, 0.15) ? undefined : pick(r, state.bearer.broken), bad: true };
  }

  /**
   * A delivery's header secret: mostly the token's own, else missing, wrong or misplaced. Answers
   * which, for a token that has one.
   */
  function headerSecret(
    token: string,
    headers: Record<string, string>,
    notes: string[],
  ): FuzzRequest["headerSecret"] {
    const secret = state.headerSecrets.get(token);
    const roll = r();
    if (!secret) {
      if (roll < 0.1) {
        notes.push("a header secret the token does not have");
        const name = pick(r, ["X-Matcher-Webhook-Secret", "Authorization"]);
        headers[name] = `mwhs_${randomText(r, 43)}`;
      }
      return undefined;
    }
    if (roll < 0.6) {
      headers[secret.name] = secret.value;
      return "right";
    }
    if (roll < 0.75) {
      notes.push("no header secret");
      delete headers[secret.name];
    } else if (roll < 0.9) {
      notes.push("a wrong header secret");
      headers[secret.name] = pick(r, [
        secret.value.slice(0, -1),
        `${secret.value}x`,
        secret.value.toLowerCase(),
        `Bearer ${randomText(r, 30)}`,
      ]);
    } else {
      notes.push("the header secret under another name");
      delete headers[secret.name];
      headers[secret.name === "Authorization" ? "X-Matcher-Webhook-Secret" : "Authorization"] =
        secret.value;
    }
    return "wrong";
  }

  /** The body schema's valid value for this request (a core connection's own, for a PUT on it). */
  function validBody(op: Operation, path: string): unknown {
    if (op.operationId === "receiveWebhook") {
      const vendor = path.includes("/webhooks/belvo/") ? "belvo" : "pluggy";
      return state.webhookPayload[vendor]();
    }
    // Mostly a core connection, so that the live-test limit is met (429).
    if (op.operationId === "testAggregatorConnection" && chance(r, 0.7)) {
      const { vendor, configName } = core();
      return { vendor, configName };
    }
    return validValue(r, op.body, doc, hints);
  }

  function brokenBody(op: Operation, valid: unknown, notes: string[]): unknown {
    const body = (valid && typeof valid === "object" && !Array.isArray(valid))
      ? { ...valid as Record<string, unknown> }
      : {};
    const keys = Object.keys(body);
    const schemaProps = Object.keys(op.body?.properties ?? {});
    const key = keys.length ? pick(r, keys) : "x";
    const kind = pick(r, [
      "drop",
      "extra",
      "type",
      "huge",
      "nasty",
      "nasty",
      "nasty-key",
      "not-object",
      "empty",
    ]);
    notes.push(`body: ${kind} ${key}`);
    switch (kind) {
      case "drop":
        delete body[key];
        return body;
      case "extra":
        body[pick(r, ["extra", "tenant_id", "id", "__proto__", "constructor", nastyString(r)])] =
          wrongTypeValue(r, {});
        return body;
      case "type":
        body[key] = wrongTypeValue(r, op.body?.properties?.[key] ?? {});
        return body;
      case "huge":
        body[key] = hugeString(r, pick(r, [1_025, 10_000, 40_000]));
        return body;
      case "nasty":
        body[schemaProps.length ? pick(r, schemaProps) : key] = nastyString(r);
        return body;
      case "nasty-key":
        body[pick(r, NASTY_STRINGS)] = { [pick(r, NASTY_STRINGS)]: [nastyString(r)] };
        return body;
      case "not-object":
        return pick(r, [[], [body], "text", 42, null, true]);
      default:
        return {};
    }
  }

  /** One request for `op`: sometimes valid throughout, usually broken in one or two ways. */
  return function makeRequest(op: Operation): FuzzRequest {
    const notes: string[] = [];
    let path = op.path;
    const pathParams: Record<string, string> = {};
    for (const p of op.parameters.filter((p: Json) => p.in === "path")) {
      // A URL holds no lone surrogate, and "." or ".." would be resolved away by the client.
      let value = pathValue(op, p.name, notes, pathParams).toWellFormed();
      if (value === "." || value === "..") value = "...";
      if (encodeURIComponent(value).length > 16_000) value = value.slice(0, 2_000);
      pathParams[p.name] = value;
      path = path.replace(`{${p.name}}`, encodeURIComponent(value));
    }
    const url = path + query(op, notes);
    const auth = authorization(op, notes);
    const headers: Record<string, string> = {};
    if (auth.value !== undefined) headers["Authorization"] = auth.value;
    const secret = op.operationId === "receiveWebhook"
      ? headerSecret(pathParams.token, headers, notes)
      : undefined;
    const request: FuzzRequest = {
      op,
      method: op.method,
      url,
      headers,
      notes,
      badAuth: auth.bad,
      headerSecret: secret,
    };
    if (op.method === "GET") return request;

    const declared = op.body !== undefined;
    if (!declared && chance(r, 0.7)) return request;
    let text: string;
    const roll = r();
    const core = op.operationId === "updateAggregatorConnection"
      ? state.core.find((c) => c.id === pathParams.id)
      : undefined;
    // A core connection is updated only to its own fields (its credential rotated to the same one
    // at times), and a broken update of it carries an unknown field, so that it surely fails.
    const coreBody = core && {
      configName: core.configName,
      baseUrl: core.baseUrl,
      accountRef: core.accountRef,
      ...(chance(r, 0.3) ? { clientId: core.clientId, secret: core.secret } : {}),
    };
    // A connection renamed to a core connection's name (names are unique per tenant): a 409.
    const taken = pick(r, state.core.filter((c) => c !== core));
    const takenName = op.operationId === "updateAggregatorConnection" && chance(r, 0.4)
      ? {
        baseUrl: taken.baseUrl,
        accountRef: taken.accountRef,
        ...coreBody,
        configName: taken.configName,
      }
      : undefined;
    if (takenName) notes.push("a name in use");
    if (!declared) {
      notes.push("undeclared body");
      const padding = chance(r, 0.25) ? "x".repeat(70_000) : "";
      text = JSON.stringify({ ...validValue(r, {}, doc, hints) as object, padding });
    } else if (roll < 0.45) {
      text = JSON.stringify(takenName ?? coreBody ?? validBody(op, path));
    } else if (roll < 0.85) {
      const broken = brokenBody(op, coreBody ?? validBody(op, path), notes);
      if (core && broken && typeof broken === "object" && !Array.isArray(broken)) {
        (broken as Record<string, unknown>).zzFuzz = true;
      }
      text = JSON.stringify(broken);
    } else if (roll < 0.93) {
      notes.push("malformed JSON");
      text = pick(r, MALFORMED_JSON);
    } else {
      notes.push("oversized");
      const size = op.operationId === "receiveWebhook" ? 300_000 : 70_000;
      text = JSON.stringify({ ...validBody(op, path) as object, padding: "x".repeat(size) });
    }
    headers["Content-Type"] = pick(r, JSON_TYPES);
    // A body where none is declared is read only for its type, so it gets more wrong ones.
    if (chance(r, declared ? 0.1 : 0.3)) {
      const type = pick(r, OTHER_TYPES);
      notes.push(`content-type "${type}"`);
      if (type) headers["Content-Type"] = type;
      else delete headers["Content-Type"];
    }
    return { ...request, body: text, stream: chance(r, 0.05) };
  };
}
