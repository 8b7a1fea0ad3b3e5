// The console's only way to the data: the public API, with the bearer token kept for this tab.

const TOKEN_KEY = "matcher.console.token";
export const API = "/v1/discovery";

/** An answer other than 2xx, with the error envelope's parts. */
export class ApiError extends Error {
  constructor(status, body, headers) {
    super(body?.message ?? `The service answered ${status}.`);
    this.status = status;
    this.code = body?.code ?? "";
    this.fields = body?.details?.fields ?? [];
    this.retryAfter = Number(headers.get("Retry-After") ?? "") || undefined;
  }
}

/** The token of this tab, or null: sessionStorage ends with the tab. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The token's claims, read without verifying (the service verifies): for display only. */
export function claims(value = token()) {
  try {
    const part = value.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
    return JSON.parse(atob(part.padEnd(part.length + (4 - part.length % 4) % 4, "=")));
  } catch {
    return {};
  }
}

/** Called when the service refuses the token (set by the app: back to the sign-in). */
let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/**
 * Calls the API as the signed-in tenant; answers the parsed body (null for 204) or throws ApiError.
 * `tokenOverride` checks a token before it is kept.
 */
export async function call(method, path, { json, tokenOverride } = {}) {
  const headers = { Accept: "application/json" };
  const bearer = tokenOverride ?? token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (json !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path.startsWith("/") ? path : `${API}/${path}`, {
    method,
    headers,
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (res.ok) return body;
  const error = new ApiError(res.status, body, res.headers);
  if (res.status === 401 && tokenOverride === undefined) onUnauthorized(error);
  throw error;
}

/** `path` with `limit` and, when given, `cursor`. */
export function paged(path, cursor, limit = 20) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor) query.set("cursor", cursor);
  return `${path}${path.includes("?") ? "&" : "?"}${query}`;
}
