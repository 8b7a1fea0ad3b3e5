// Every outbound vendor request goes through here: egress policy, address check, timeouts, size cap.
import { lookup } from "node:dns/promises";
import { isForbiddenAddress } from "./addresses.ts";
import { checkEgressUrl, type EgressPolicy } from "./egress.ts";
import { VendorError } from "./errors.ts";
import type { Vendor } from "./vendors.ts";

export interface VendorHttpOptions {
  egress: EgressPolicy;
  /** Time allowed until the response starts: DNS, connect, TLS and the response headers. */
  connectTimeoutMs: number;
  /** Time allowed for the whole exchange, body included. */
  timeoutMs: number;
  /** Largest response body accepted, in bytes. */
  maxResponseBytes: number;
  /** Resolves a host name to its addresses; defaults to the system resolver (getaddrinfo). */
  resolve?: (hostname: string) => Promise<string[]>;
  fetch?: typeof fetch;
}

export interface VendorRequest {
  method: "GET" | "POST";
  url: URL;
  headers?: Record<string, string>;
  body?: string;
  /** Names the call in errors and logs, e.g. "pluggy GET /items/{id}"; never holds values. */
  operation: string;
}

export interface VendorResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** Performs one vendor request; fails only with a VendorError. */
export type VendorHttp = (vendor: Vendor, request: VendorRequest) => Promise<VendorResponse>;

async function systemResolve(hostname: string): Promise<string[]> {
  const found = await lookup(hostname, { all: true, verbatim: true });
  return found.map((a) => a.address);
}

/** Reads a body, refusing it as soon as it passes `max` bytes. */
async function readCapped(res: Response, max: number, operation: string): Promise<Uint8Array> {
  const tooLarge = () =>
    new VendorError(
      "permanent",
      "unexpected_response",
      `${operation}: response over ${max} bytes`,
      {
        status: res.status,
      },
    );
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/** `work`, unless `signal` aborts first: then the error `onAbort` makes. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal, onAbort: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const abort = () => reject(onAbort());
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

export function createVendorHttp(options: VendorHttpOptions): VendorHttp {
  const resolve = options.resolve ?? systemResolve;
  const fetchFn = options.fetch ?? fetch;

  /** Refuses a vendor host that resolves to no address or to any non-public one. */
  async function checkAddresses(hostname: string, operation: string): Promise<void> {
    let addresses: string[];
    try {
      addresses = await resolve(hostname);
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) {
      throw new VendorError(
        "transient",
        "vendor_unreachable",
        `${operation}: host did not resolve`,
      );
    }
    if (addresses.some(isForbiddenAddress)) {
      throw new VendorError(
        "permanent",
        "vendor_unreachable",
        `${operation}: egress refused: the host resolves to a non-public address`,
      );
    }
  }

  return async function vendorFetch(vendor, request) {
    const { url, operation } = request;
    const verdict = checkEgressUrl(vendor, url, options.egress);
    if (!verdict.ok) {
      throw new VendorError(
        "permanent",
        "vendor_unreachable",
        `${operation}: egress refused: ${verdict.reason}`,
      );
    }

    const total = new AbortController();
    const start = new AbortController();
    const timeout = (controller: AbortController, ms: number) =>
      setTimeout(() => controller.abort(new DOMException("timed out", "TimeoutError")), ms);
    const totalTimer = timeout(total, options.timeoutMs);
    const startTimer = timeout(start, options.connectTimeoutMs);
    const timedOut = () => new VendorError("transient", "timeout", `${operation}: timed out`);
    try {
      if (!verdict.allowedHost) {
        await untilAborted(checkAddresses(url.hostname, operation), start.signal, timedOut);
      }
      let res: Response;
      try {
        res = await fetchFn(url, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          redirect: "manual",
          signal: AbortSignal.any([total.signal, start.signal]),
        });
      } catch {
        if (total.signal.aborted || start.signal.aborted) throw timedOut();
        throw new VendorError("transient", "vendor_unreachable", `${operation}: connection failed`);
      } finally {
        clearTimeout(startTimer);
      }
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel();
        throw new VendorError(
          "permanent",
          "unexpected_response",
          `${operation}: answered a redirect (${res.status}), which is never followed`,
          { status: res.status },
        );
      }
      try {
        return {
          status: res.status,
          headers: res.headers,
          body: await readCapped(res, options.maxResponseBytes, operation),
        };
      } catch (err) {
        if (err instanceof VendorError) throw err;
        if (total.signal.aborted) throw timedOut();
        throw new VendorError(
          "transient",
          "vendor_unreachable",
          `${operation}: the connection broke while reading the answer`,
          { status: res.status },
        );
      }
    } finally {
      clearTimeout(startTimer);
      clearTimeout(totalTimer);
    }
  };
}
