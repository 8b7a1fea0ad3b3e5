// Turns request validation failures into a 400 that names each field, and guards JSON bodies.
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import { AppError, type FieldProblem } from "../lib/app_error.ts";

/** Largest JSON body the API accepts (declared as 413 in openapi.yaml). */
export const MAX_BODY_BYTES = 64 * 1024;

function describe(issue: z.core.$ZodIssue): FieldProblem[] {
  const field = issue.path.length ? issue.path.join(".") : "body";
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      field: issue.path.length ? `${field}.${key}` : key,
      message: "is not a known field",
    }));
  }
  // zod reports a missing field as a type error; only its message says "received undefined".
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) {
    return [{ field, message: "is required" }];
  }
  return [{ field, message: issue.message }];
}

/** The `defaultHook` of the app: any failed validation throws a 400 naming the fields. */
export function validationHook(
  result: { success: true } | { success: false; error: z.ZodError; target: string },
): void {
  if (result.success) return;
  const fields = result.error.issues.flatMap(describe);
  const pagination = result.target === "query";
  throw AppError.invalid(fields, pagination ? "invalid_pagination" : "invalid_field");
}

/**
 * A JSON media type exactly as @hono/zod-openapi's body validator accepts it (its own check answers
 * 415, which the spec does not declare): `application/json` or `application/<x>+json`, each
 * parameter `; name=value`, with no space before a semicolon.
 */
const JSON_CONTENT_TYPE = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;

/** Bodies must be JSON and at most MAX_BODY_BYTES; both are checked before any handler runs. */
export function jsonBodies(): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new AppError(
        "body_too_large",
        `The request body is larger than ${MAX_BODY_BYTES} bytes.`,
      );
    },
  });
  return async function guardJsonBody(c, next) {
    if (c.req.method === "POST" || c.req.method === "PUT" || c.req.method === "PATCH") {
      const type = c.req.header("Content-Type") ?? "";
      // A POST that sends nothing (requesting a pull) has no body to check.
      if (!type && !hasBody(c.req.raw.headers)) return await next();
      if (!JSON_CONTENT_TYPE.test(type)) {
        throw new AppError(
          "unreadable_body",
          "The request body must be JSON (Content-Type: application/json).",
        );
      }
      return limit(c, next);
    }
    await next();
  };
}

function hasBody(headers: Headers): boolean {
  const length = headers.get("Content-Length");
  return headers.has("Transfer-Encoding") || (length !== null && length !== "0");
}
