// The fake Pluggy's webhook API (POST, GET, PATCH, DELETE /webhooks) and its deliveries: each event
// goes to every enabled webhook of that event (or of `all`) with the webhook's custom headers.
import { json } from "./server.ts";

/** The events Pluggy's webhook API takes (pluggy-sdk's WEBHOOK_EVENTS, in its order). */
const EVENTS = new Set([
  "item/created",
  "item/updated",
  "item/error",
  "item/deleted",
  "item/waiting_user_input",
  "item/waiting_user_action",
  "item/login_succeeded",
  "connector/status_updated",
  "transactions/created",
  "transactions/updated",
  "transactions/deleted",
  "payment_intent/created",
  "payment_intent/completed",
  "payment_intent/waiting_payer_authorization",
  "payment_intent/error",
  "boleto/updated",
  "all",
]);

/** Pluggy allows this many webhooks per event. */
const MAX_PER_EVENT = 5;

/** A registered webhook as the fake keeps it (its headers are never answered back). */
export interface PluggyWebhookRegistration {
  id: string;
  event: string;
  url: string;
  headers: Record<string, string> | null;
  createdAt: string;
  updatedAt: string;
  disabledAt: string | null;
}

export interface PluggyWebhookRegistry {
  /** Answers a request under /webhooks; undefined for any other path. */
  handle(request: Request, path: string): Promise<Response> | undefined;
  readonly registrations: readonly PluggyWebhookRegistration[];
  /**
   * Delivers `payload` as Pluggy would: to every enabled webhook of its event or of `all`, each
   * with its own headers; answers each receiver's status.
   */
  notify(payload: Record<string, unknown>): Promise<Array<{ url: string; status: number }>>;
}

type Send = (url: string, payload: object, headers?: Record<string, string>) => Promise<Response>;

const error = (status: number, message: string) => json({ code: status, message }, status);

/** The public shape of a webhook: everything but its headers, as the SDK's `Webhook` type has. */
function render(w: PluggyWebhookRegistration) {
  const { headers: _headers, ...shown } = w;
  return shown;
}

/** A problem with a create or update body, or undefined; `partial` for PATCH. */
function invalid(body: Record<string, unknown>, partial: boolean): string | undefined {
  if (!partial || "event" in body) {
    if (typeof body.event !== "string" || !EVENTS.has(body.event)) return "event is not valid";
  }
  if (!partial || "url" in body) {
    // Pluggy takes only https on port 443 with a domain name; the fake also takes the tests'
    // http://127.0.0.1 receivers.
    if (typeof body.url !== "string" || !URL.canParse(body.url)) return "url must be a valid URL";
  }
  const headers = body.headers;
  if (headers !== undefined && headers !== null) {
    const values = typeof headers === "object" && !Array.isArray(headers)
      ? Object.values(headers)
      : [0];
    if (!values.every((v) => typeof v === "string")) return "headers must map names to strings";
  }
  if ("enabled" in body && typeof body.enabled !== "boolean") return "enabled must be a boolean";
  return undefined;
}

export function pluggyWebhookRegistry(
  deps: { now: () => number; send: Send },
): PluggyWebhookRegistry {
  const webhooks: PluggyWebhookRegistration[] = [];
  const stamp = () => new Date(deps.now()).toISOString();

  async function readBody(request: Request): Promise<Record<string, unknown> | undefined> {
    try {
      const body = await request.json();
      return body && typeof body === "object" && !Array.isArray(body) ? body : undefined;
    } catch {
      return undefined;
    }
  }

  async function create(request: Request): Promise<Response> {
    const body = await readBody(request);
    if (!body) return error(400, "Request body must be a JSON object");
    const problem = invalid(body, false);
    if (problem) return error(400, problem);
    if (webhooks.filter((w) => w.event === body.event).length >= MAX_PER_EVENT) {
      return error(400, `A maximum of ${MAX_PER_EVENT} webhooks per event is allowed`);
    }
    const at = stamp();
    const webhook: PluggyWebhookRegistration = {
      id: crypto.randomUUID(),
      event: body.event as string,
      url: body.url as string,
      headers: (body.headers as Record<string, string> | null | undefined) ?? null,
      createdAt: at,
      updatedAt: at,
      disabledAt: null,
    };
    webhooks.push(webhook);
    return json(render(webhook));
  }

  async function update(request: Request, webhook: PluggyWebhookRegistration): Promise<Response> {
    const body = await readBody(request);
    if (!body) return error(400, "Request body must be a JSON object");
    const problem = invalid(body, true);
    if (problem) return error(400, problem);
    if (typeof body.event === "string") webhook.event = body.event;
    if (typeof body.url === "string") webhook.url = body.url;
    if ("headers" in body) webhook.headers = (body.headers as Record<string, string>) ?? null;
    if (typeof body.enabled === "boolean") webhook.disabledAt = body.enabled ? null : stamp();
    webhook.updatedAt = stamp();
    return json(render(webhook));
  }

  return {
    handle(request, path) {
      if (path === "/webhooks") {
        if (request.method === "POST") return create(request);
        if (request.method === "GET") {
          const results = webhooks.map(render);
          return Promise.resolve(json({ page: 1, total: results.length, totalPages: 1, results }));
        }
        return Promise.resolve(error(405, "Method Not Allowed"));
      }
      const id = /^\/webhooks\/([^/]+)$/.exec(path)?.[1];
      if (id === undefined) return undefined;
      const webhook = webhooks.find((w) => w.id === id);
      if (!webhook) return Promise.resolve(error(404, "Webhook not found"));
      if (request.method === "GET") return Promise.resolve(json(render(webhook)));
      if (request.method === "PATCH") return update(request, webhook);
      if (request.method === "DELETE") {
        webhooks.splice(webhooks.indexOf(webhook), 1);
        return Promise.resolve(json({ id: webhook.id }));
      }
      return Promise.resolve(error(405, "Method Not Allowed"));
    },
    get registrations() {
      return webhooks;
    },
    async notify(payload) {
      const targets = webhooks.filter((w) =>
        w.disabledAt === null && (w.event === "all" || w.event === payload.event)
      );
      return await Promise.all(targets.map(async (w) => {
        const res = await deps.send(w.url, payload, w.headers ?? {});
        await res.body?.cancel();
        return { url: w.url, status: res.status };
      }));
    },
  };
}
