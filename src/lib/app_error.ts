// The one error type of the service: a failure named in domain terms, which src/http/errors.ts answers.

/**
 * Every kind of failure the service names. Services and repositories throw these, never an HTTP
 * status: src/http/errors.ts gives each kind its one status and stable `MTCH-` code.
 */
export type ErrorKind =
  | "invalid_field"
  | "invalid_pagination"
  | "unreadable_body"
  | "body_too_large"
  | "body_timeout"
  | "vendor_mismatch"
  | "partial_credential"
  | "base_url_not_allowed"
  | "invalid_webhook"
  | "unauthenticated"
  | "no_such_route"
  | "connection_not_found"
  | "config_name_taken"
  | "webhook_token_not_found"
  | "pull_not_found"
  | "pull_not_finished"
  | "too_many_requests"
  | "idempotency_key_in_use"
  | "idempotency_key_reused"
  | "internal"
  | "unavailable";

export type FieldProblem = { field: string; message: string };

export interface AppErrorOptions {
  /** The offending fields of an input failure, shown as `details.fields`. */
  fields?: FieldProblem[];
  /** When the caller may try again (rate limits, outages), in seconds. */
  retryAfterSeconds?: number;
  /** Extra response headers; only the HTTP layer sets these (WWW-Authenticate). */
  headers?: Record<string, string>;
}

/**
 * An expected failure. Code throws it; the error middleware answers. Its message is shown to the
 * caller, so it must never carry a secret.
 */
export class AppError extends Error {
  constructor(readonly kind: ErrorKind, message: string, readonly options: AppErrorOptions = {}) {
    super(message);
    this.name = "AppError";
  }

  /** An input failure naming each offending field. */
  static invalid(fields: FieldProblem[], kind: ErrorKind = "invalid_field"): AppError {
    const message = fields.map((f) => `${f.field}: ${f.message}`).join("; ");
    return new AppError(kind, message, { fields });
  }
}
