// Every outbound vendor request goes through here: egress policy, address check, timeouts, size cap.
import { lookup as systemLookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import { isIPv6, type LookupFunction } from "node:net";
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
  /** Which resolved addresses refuse the call; defaults to every non-public one. */
  isForbidden?: (address: string) => boolean;
  /** Told about every call once it ends, for metrics. */
  observe?: VendorCallObserver;
}

/** One finished vendor call: `outcome` is the status answered, or the failure's reason. */
export type VendorCallObserver = (
  call: { vendor: Vendor; operation: string; outcome: string; seconds: number },
) => void;

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
  const found = await systemLookup(hostname, { all: true, verbatim: true });
  return found.map((a) => a.address);
}

/** Raised inside the DNS lookup when the host resolves to an address the policy refuses. */
class AddressRefused extends Error {}

/**
 * The DNS lookup of the connection itself: the addresses it checks are the addresses the socket
 * connects to, so a host cannot answer one address to a check and another to the connection.
 */
function guardedLookup(
  resolve: (hostname: string) => Promise<string[]>,
  isForbidden: (address: string) => boolean,
): LookupFunction {
  return function lookupVendorHost(hostname, options, callback) {
    resolve(hostname).then((addresses) => {
      if (addresses.length === 0) {
        throw Object.assign(new Error("no address"), { code: "ENOTFOUND" });
      }
      if (addresses.some(isForbidden)) throw new AddressRefused();
      const entries = addresses.map((address) => ({ address, family: isIPv6(address) ? 6 : 4 }));
      if (options.all) callback(null, entries);
      else callback(null, entries[0].address, entries[0].family);
    }).catch((err) => callback(err, "", 0));
  };
}

/** Joins the chunks of a body. */
function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  return headers;
}

export function createVendorHttp(options: VendorHttpOptions): VendorHttp {
  const vendorLookup = guardedLookup(
    options.resolve ?? systemResolve,
    options.isForbidden ?? isForbiddenAddress,
  );
  const max = options.maxResponseBytes;

  return function vendorRequest(vendor, request) {
    const { url, operation } = request;
    const fail = (
      kind: "transient" | "permanent",
      reason: "vendor_unreachable" | "timeout" | "unexpected_response",
      what: string,
      status?: number,
    ) => new VendorError(kind, reason, `${operation}: ${what}`, status ? { status } : {});

    const verdict = checkEgressUrl(vendor, url, options.egress);
    if (!verdict.ok) {
      return Promise.reject(
        fail("permanent", "vendor_unreachable", `egress refused: ${verdict.reason}`),
      );
    }

    const started = performance.now();
    return new Promise<VendorResponse>((resolve, reject) => {
      const req = (url.protocol === "https:" ? https : http).request(url, {
        method: request.method,
        headers: request.body === undefined ? request.headers : {
          ...request.headers,
          "content-length": String(new TextEncoder().encode(request.body).byteLength),
        },
        // A fresh connection each call: with Deno's node:http a pooled connection that a timed-out
        // call abandoned could carry the next call's request twice.
        agent: false,
        // Operator-allowed extra hosts skip the address check; vendor hosts never do.
        lookup: verdict.allowedHost ? undefined : vendorLookup,
      });

      let settled = false;
      const finish = (outcome: VendorResponse | VendorError) => {
        if (settled) return;
        settled = true;
        clearTimeout(startTimer);
        clearTimeout(totalTimer);
        const failed = outcome instanceof VendorError;
        options.observe?.({
          vendor,
          operation,
          outcome: failed ? outcome.reason : String(outcome.status),
          seconds: (performance.now() - started) / 1000,
        });
        if (failed) {
          req.destroy();
          reject(outcome);
        } else resolve(outcome);
      };
      const startTimer = setTimeout(
        () => finish(fail("transient", "timeout", "timed out before the answer started")),
        options.connectTimeoutMs,
      );
      const totalTimer = setTimeout(
        () => finish(fail("transient", "timeout", "timed out")),
        options.timeoutMs,
      );

      req.on("error", (err) => {
        if (err instanceof AddressRefused) {
          const why = "egress refused: the host resolves to a non-public address";
          finish(fail("permanent", "vendor_unreachable", why));
        } else if ((err as { code?: string }).code === "ENOTFOUND") {
          finish(fail("transient", "vendor_unreachable", "host did not resolve"));
        } else finish(fail("transient", "vendor_unreachable", "connection failed"));
      });

      req.on("response", (res) => {
        clearTimeout(startTimer);
        const status = res.statusCode ?? 0;
        const broken = () =>
          finish(fail("transient", "vendor_unreachable", "the answer broke off", status));
        // A page larger than the cap may be a passing glitch of the vendor's, so it is retried.
        const tooLarge = () =>
          finish(fail("transient", "unexpected_response", `response over ${max} bytes`, status));
        if (status >= 300 && status < 400) {
          const why = `answered a redirect (${status}), which is never followed`;
          return finish(fail("permanent", "unexpected_response", why, status));
        }
        if (Number(res.headers["content-length"] ?? 0) > max) return tooLarge();

        const chunks: Uint8Array[] = [];
        let size = 0;
        res.on("data", (chunk: Uint8Array) => {
          size += chunk.byteLength;
          if (size > max) return tooLarge();
          chunks.push(chunk);
        });
        res.on("end", () => {
          if (!res.complete) return broken();
          finish({ status, headers: toHeaders(res.headers), body: concat(chunks, size) });
        });
        res.on("error", broken);
        res.on("aborted", broken);
      });

      req.end(request.body);
    }).catch((err) => {
      if (err instanceof VendorError) throw err;
      // Thrown while building the request (a malformed header, say): never retried.
      throw fail("permanent", "unexpected_response", "the request could not be sent");
    });
  };
}
