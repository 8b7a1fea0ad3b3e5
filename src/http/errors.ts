// The one error type of the service and the middleware that turns any thrown error into the envelope.
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { components } from "../../generated/types.ts";
import type { Logger } from "./logger.ts";

type ErrorBody = components["schemas"]["Error"];
export type FieldProblem = { field: string; message: string };

/** Stable error codes, one per failure kind (listed in openapi.yaml under Error.code). */
export const ErrorCode = {
  invalidField: "MTCH-1001",
  invalidPagination: "MTCH-1002",
  unreadableBody: "MTCH-1003",
  bodyTooLarge: "MTCH-1004",
  vendorMismatch: "MTCH-1010",
  partialCredential: "MTCH-1011",
  baseUrlNotAllowed: "MTCH-1012",
  invalidWebhook: "MTCH-1020",
  unauthenticated: "MTCH-1401",
  noSuchRoute: "MTCH-1404",
  connectionNotFound: "MTCH-2404",
  configNameTaken: "MTCH-2409",
  webhookTokenNotFound: "MTCH-3404",
  pullNotFound: "MTCH-4404",
  pullNotFinished: "MTCH-4409",
  tooManyRequests: "MTCH-1429",
  internal: "MTCH-9500",
  unavailable: "MTCH-9503",
} as const;
type Code = typeof ErrorCode[keyof typeof ErrorCode];

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  409: "Conflict",
  413: "Content Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/**
 * An expected failure with its HTTP status and stable code. Handlers throw it; `errorHandler`
 * answers. Its message is shown to the caller, so it must never carry a secret.
 */
export class AppError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: Code,
    message: string,
    readonly options: { fields?: FieldProblem[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "AppError";
  }

  /** A 400 naming each offending field. */
  static invalid(fields: FieldProblem[], code: Code = ErrorCode.invalidField): AppError {
    const message = fields.map((f) => `${f.field}: ${f.message}`).join("; ");
    return new AppError(400, code, message, { fields });
  }

  toBody(): ErrorBody {
    const body: ErrorBody = {
      code: this.code,
      title: TITLES[this.status] ?? "Error",
      message: this.message,
    };
    if (this.options.fields) body.details = { fields: this.options.fields };
    return body;
  }
}

/** postgres.js and socket error codes that mean the database cannot be reached right now. */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE", // written to a connection the server had just closed
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "08000", // connection_exception
  "08003", // connection_does_not_exist
  "08006", // connection_failure
]);

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && UNAVAILABLE_CODES.has(code);
}

/** Postgres refuses U+0000 in text (22021) and in jsonb (22P05); JSON may carry it as \u0000. */
function isUnstorableText(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === "22021" || code === "22P05";
}

/** Maps anything thrown to an AppError; unexpected errors become a detail-free 500. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 413) {
      return new AppError(413, ErrorCode.bodyTooLarge, "The request body is too large.");
    }
    if (err.status === 400) {
      return new AppError(400, ErrorCode.unreadableBody, "The request body is not valid JSON.");
    }
    if (err.status === 415) {
      // The body validator's own media type check; the JSON guard should have answered first.
      return new AppError(
        400,
        ErrorCode.unreadableBody,
        "The request body must be JSON (Content-Type: application/json).",
      );
    }
  }
  if (isUnstorableText(err)) {
    return AppError.invalid([{ field: "body", message: "contains a NUL character (U+0000)" }]);
  }
  if (isUnavailable(err)) {
    return new AppError(503, ErrorCode.unavailable, "The database is unavailable; try again.", {
      headers: { "Retry-After": "5" },
    });
  }
  return new AppError(500, ErrorCode.internal, "An unexpected error occurred.");
}

/** The one error middleware: every failure leaves the service through here. */
export function errorHandler(logger: Logger): ErrorHandler {
  return function handleError(err: unknown, c: Context) {
    const appError = toAppError(err);
    if (appError.status >= 500) {
      // Only the name, message and code: postgres.js errors carry query parameters, which may
      // include sealed credentials, so the error object itself is never logged.
      const e = err as { name?: string; message?: string; code?: string };
      logger.error({
        msg: "request failed",
        requestId: c.get("requestId"),
        error: { name: e?.name, code: e?.code, message: e?.message },
      });
    }
    for (const [name, value] of Object.entries(appError.options.headers ?? {})) {
      c.header(name, value);
    }
    return c.json(appError.toBody(), appError.status);
  };
}

export const notFoundHandler: NotFoundHandler = function notFound(c) {
  const body = new AppError(404, ErrorCode.noSuchRoute, "No such route.").toBody();
  return c.json(body, 404);
};
