// The one error a vendor call fails with, classified for the retry logic and the connection test.
import type { components } from "../../generated/types.ts";

/** How a failed vendor call should be treated by whoever retries it. */
export type VendorErrorKind =
  | "credentials_rejected"
  | "not_found"
  | "rate_limited"
  | "transient"
  | "permanent";

/**
 * What a connection test reports (the spec's list), so a vendor's own words never reach a caller.
 */
export type VendorFailureReason = NonNullable<
  components["schemas"]["ConnectionTestResult"]["reason"]
>;

export interface VendorErrorDetails {
  /** The HTTP status the vendor answered, when it answered. */
  status?: number;
  /** How long the vendor asked us to wait (429 `Retry-After`), in milliseconds. */
  retryAfterMs?: number;
  /** The vendor's machine-readable error code (e.g. `CLIENT_KEYS_UNAUTHORIZED`), never its text. */
  vendorCode?: string;
}

/**
 * A failed call to Pluggy or Belvo. The message is written by us (vendor, operation, status) and
 * never carries a credential, an API key or the vendor's free-text message.
 */
export class VendorError extends Error {
  constructor(
    readonly kind: VendorErrorKind,
    readonly reason: VendorFailureReason,
    message: string,
    readonly details: VendorErrorDetails = {},
  ) {
    super(message);
    this.name = "VendorError";
  }

  /** True when trying again later may succeed (rate limits and transient faults). */
  get retryable(): boolean {
    return this.kind === "rate_limited" || this.kind === "transient";
  }
}

/**
 * The longest wait a vendor's `Retry-After` is taken at its word for: a failed pull is retried
 * within the hour anyway (the backoff's own cap), and a larger value would only park it.
 */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/** An HTTP date starts with the day's name (IMF-fixdate, RFC 850 and asctime alike). */
const HTTP_DATE = /^(mon|tue|wed|thu|fri|sat|sun)[a-z]*,? /i;

/**
 * A `Retry-After` header (delta seconds or an HTTP date) in milliseconds from `now`, between 0 and
 * MAX_RETRY_AFTER_MS; undefined when it is neither (a negative number, garbage). A vendor's
 * `9999999999999999` is an hour, not a date past the end of time.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else if (HTTP_DATE.test(text)) ms = Date.parse(text) - now;
  else return undefined;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}
