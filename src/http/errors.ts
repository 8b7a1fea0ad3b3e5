// The one error middleware: every failure leaves the service here, as the Matcher error envelope.
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { components } from "../../generated/types.ts";
import { isUnavailable, isUnstorableText } from "../db/errors.ts";
import { AppError, type ErrorKind } from "../lib/app_error.ts";
import { errorSummary } from "../lib/error_summary.ts";
import type { Logger } from "../lib/logger.ts";

type ErrorBody = components["schemas"]["Error"];
type ErrorCode = ErrorBody["code"];

/** Each kind's status and stable code (the codes are listed in openapi.yaml under Error.code). */
const ANSWERS: Record<ErrorKind, { status: ContentfulStatusCode; code: ErrorCode }> = {
  invalid_field: { status: 400, code: "MTCH-1001" },
  invalid_pagination: { status: 400, code: "MTCH-1002" },
  unreadable_body: { status: 400, code: "MTCH-1003" },
  body_too_large: { status: 413, code: "MTCH-1004" },
  body_timeout: { status: 408, code: "MTCH-1408" },
  vendor_mismatch: { status: 400, code: "MTCH-1010" },
  partial_credential: { status: 400, code: "MTCH-1011" },
  base_url_not_allowed: { status: 400, code: "MTCH-1012" },
  invalid_webhook: { status: 400, code: "MTCH-1020" },
  unauthenticated: { status: 401, code: "MTCH-1401" },
  no_such_route: { status: 404, code: "MTCH-1404" },
  too_many_requests: { status: 429, code: "MTCH-1429" },
  idempotency_key_in_use: { status: 409, code: "MTCH-1409" },
  idempotency_key_reused: { status: 422, code: "MTCH-1422" },
  connection_not_found: { status: 404, code: "MTCH-2404" },
  config_name_taken: { status: 409, code: "MTCH-2409" },
  webhook_token_not_found: { status: 404, code: "MTCH-3404" },
  pull_not_found: { status: 404, code: "MTCH-4404" },
  pull_not_finished: { status: 409, code: "MTCH-4409" },
  internal: { status: 500, code: "MTCH-9500" },
  unavailable: { status: 503, code: "MTCH-9503" },
};

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** How an error is answered: its status, the envelope and the headers that go with it. */
export interface ErrorAnswer {
  status: ContentfulStatusCode;
  body: ErrorBody;
  headers: Record<string, string>;
}

/** Maps anything thrown to an AppError; unexpected errors become a detail-free internal one. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 413) return new AppError("body_too_large", "The request body is too large.");
    if (err.status === 400) {
      return new AppError("unreadable_body", "The request body is not valid JSON.");
    }
    if (err.status === 415) {
      // The body validator's own media type check; the JSON guard should have answered first.
      return new AppError(
        "unreadable_body",
        "The request body must be JSON (Content-Type: application/json).",
      );
    }
  }
  if (isUnstorableText(err)) {
    return AppError.invalid([{ field: "body", message: "contains a NUL character (U+0000)" }]);
  }
  if (isUnavailable(err)) {
    return new AppError("unavailable", "The database is unavailable; try again.", {
      retryAfterSeconds: 5,
    });
  }
  return new AppError("internal", "An unexpected error occurred.");
}

/** The answer for anything thrown. */
export function errorAnswer(err: unknown): ErrorAnswer {
  const error = toAppError(err);
  const { status, code } = ANSWERS[error.kind];
  const body: ErrorBody = { code, title: TITLES[status] ?? "Error", message: error.message };
  if (error.options.fields) body.details = { fields: error.options.fields };
  const headers = { ...error.options.headers };
  if (error.options.retryAfterSeconds !== undefined) {
    headers["Retry-After"] = String(error.options.retryAfterSeconds);
  }
  return { status, body, headers };
}

/** The error line of a request that failed on our side (a 5xx). */
export function logFailure(logger: Logger, requestId: string, err: unknown): void {
  // The name, code and message only: postgres.js errors carry query parameters, which may include
  // sealed credentials, so the error object itself is never logged.
  const message = (err as { message?: unknown })?.message;
  logger.error({
    msg: "request failed",
    requestId,
    error: { ...errorSummary(err), message: typeof message === "string" ? message : undefined },
  });
}

/** The one error middleware: every failure leaves the service through here. */
export function errorHandler(logger: Logger): ErrorHandler {
  return function handleError(err: unknown, c: Context) {
    const answer = errorAnswer(err);
    if (answer.status >= 500) logFailure(logger, c.get("requestId"), err);
    for (const [name, value] of Object.entries(answer.headers)) c.header(name, value);
    return c.json(answer.body, answer.status);
  };
}

export const notFoundHandler: NotFoundHandler = function notFound(c) {
  return c.json(errorAnswer(new AppError("no_such_route", "No such route.")).body, 404);
};
