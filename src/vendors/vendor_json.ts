// A vendor call that expects JSON: status codes classified, the body parsed and checked with zod.
import type { z } from "zod";
import { parseRetryAfter, VendorError } from "./errors.ts";
import type { VendorHttp, VendorRequest, VendorResponse } from "./vendor_http.ts";
import type { Vendor } from "./vendors.ts";

function parseJson(body: Uint8Array): unknown {
  return JSON.parse(new TextDecoder().decode(body));
}

/** A JSON answer checked against its schema, and its text as received. */
export interface JsonAnswer<T> {
  value: T;
  text: string;
}

/**
 * The vendor's machine-readable error code, if its error body has one: Pluggy sends
 * `{code, codeDescription?, message}`, Belvo an array of `{code, message, request_id}`.
 */
function vendorCode(body: Uint8Array): string | undefined {
  let json: unknown;
  try {
    json = parseJson(body);
  } catch {
    return undefined;
  }
  const first = (Array.isArray(json) ? json[0] : json) as Record<string, unknown> | undefined;
  const code = first?.codeDescription ?? first?.code;
  const text = typeof code === "number" ? String(code) : code;
  return typeof text === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(text) ? text : undefined;
}

/** The VendorError for a non-2xx answer. */
export function statusError(res: VendorResponse, operation: string, now: number): VendorError {
  const details = { status: res.status, vendorCode: vendorCode(res.body) };
  const message = `${operation}: answered ${res.status}`;
  if (res.status === 401 || res.status === 403) {
    return new VendorError("credentials_rejected", "credentials_rejected", message, details);
  }
  if (res.status === 404) {
    return new VendorError("not_found", "account_not_found", message, details);
  }
  if (res.status === 429) {
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), now);
    return new VendorError("rate_limited", "rate_limited", message, { ...details, retryAfterMs });
  }
  if (res.status === 408 || res.status >= 500) {
    return new VendorError("transient", "vendor_unreachable", message, details);
  }
  return new VendorError("permanent", "unexpected_response", message, details);
}

/** Parses a 2xx body against `schema`; a malformed answer is a VendorError, never a crash. */
function parseBody<T>(
  res: VendorResponse,
  schema: z.ZodType<T>,
  operation: string,
): JsonAnswer<T> {
  let json: unknown;
  let text: string;
  try {
    text = new TextDecoder().decode(res.body);
    json = JSON.parse(text);
  } catch {
    throw new VendorError("transient", "unexpected_response", `${operation}: answer is not JSON`, {
      status: res.status,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues[0]?.path.join(".") || "(root)";
    throw new VendorError(
      "transient",
      "unexpected_response",
      `${operation}: answer does not have the expected shape (at ${where})`,
      { status: res.status },
    );
  }
  return { value: parsed.data, text };
}

/** Sends `request` and answers its JSON body checked against `schema`, with its text. */
export async function requestJson<T>(
  http: VendorHttp,
  vendor: Vendor,
  request: VendorRequest,
  schema: z.ZodType<T>,
  now: () => number,
): Promise<JsonAnswer<T>> {
  return answerWithText(await http(vendor, request), schema, request.operation, now());
}

/** A 2xx answer's body checked against `schema`, or the VendorError for any other status. */
export function answerOf<T>(
  res: VendorResponse,
  schema: z.ZodType<T>,
  operation: string,
  now: number,
): T {
  return answerWithText(res, schema, operation, now).value;
}

/** `answerOf`, with the body's text as received. */
export function answerWithText<T>(
  res: VendorResponse,
  schema: z.ZodType<T>,
  operation: string,
  now: number,
): JsonAnswer<T> {
  if (res.status < 200 || res.status >= 300) throw statusError(res, operation, now);
  return parseBody(res, schema, operation);
}

/**
 * The URL of a `next` link, refused unless it stays on the connection's own origin and carries no
 * user info (which the origin does not show). Either is the vendor's answer, not a passing fault.
 */
export function sameOriginNext(next: string, base: URL, operation: string): URL {
  let url: URL;
  try {
    url = new URL(next);
  } catch {
    throw new VendorError("permanent", "unexpected_response", `${operation}: next is not a URL`);
  }
  if (url.origin !== base.origin) {
    throw new VendorError(
      "permanent",
      "unexpected_response",
      `${operation}: next link leaves the connection's origin`,
    );
  }
  if (url.username || url.password) {
    throw new VendorError(
      "permanent",
      "unexpected_response",
      `${operation}: next link carries user info`,
    );
  }
  return url;
}

/**
 * The page after the current one, on the connection's origin; a PageWalk refuses it when it is
 * fetched, should it lead back to a page already read.
 */
export function followNext(
  next: string | null | undefined,
  base: URL,
  operation: string,
): URL | null {
  return next ? sameOriginNext(next, base, operation) : null;
}
