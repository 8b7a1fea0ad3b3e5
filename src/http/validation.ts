// Turns request validation failures into a 400 that names each field, and guards JSON bodies.
import type { MiddlewareHandler } from "hono";
import type { z } from "zod";
import { AppError, type FieldProblem } from "../lib/app_error.ts";
import { readJsonText } from "./read_body.ts";

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

export interface JsonBodyOptions {
  /** Longest the body may take to arrive (408), and how deeply it may nest (400). */
  timeoutMs: number;
  maxDepth: number;
  /**
   * The operation declares no body (requesting or retrying a pull): it takes none, an empty one,
   * or `{}`, which asks for nothing more than no body does. Anything else is refused, where
   * before it was ignored, so that no caller comes to rely on a body that means nothing today.
   */
  bodyless: boolean;
}

/**
 * Bodies must be JSON, at most MAX_BODY_BYTES, sent within `timeoutMs` and nested no deeper than
 * `maxDepth`: all checked on the text before any handler or parser sees it.
 */
export function jsonBodies(options: JsonBodyOptions): MiddlewareHandler {
  const limits = { maxBytes: MAX_BODY_BYTES, ...options };
  return async function guardJsonBody(c, next) {
    if (c.req.method === "POST" || c.req.method === "PUT" || c.req.method === "PATCH") {
      const type = c.req.header("Content-Type") ?? "";
      // A POST that sends nothing (requesting a pull) has no body to check; where the operation
      // takes none, whatever type an empty body claims.
      const empty = !hasBody(c.req.raw.headers);
      if (empty && (!type || options.bodyless)) return await next();
      if (!JSON_CONTENT_TYPE.test(type)) {
        throw new AppError(
          "unreadable_body",
          "The request body must be JSON (Content-Type: application/json).",
        );
      }
      const text = await readJsonText(c.req.raw, limits);
      if (options.bodyless) {
        refuseBody(text);
      } else {
        // The validator parses the text read here, not the stream it came from.
        c.req.raw = new Request(c.req.raw, { body: text });
      }
    }
    await next();
  };
}

/** For an operation that takes no body: nothing but whitespace or `{}` passes. */
function refuseBody(text: string): void {
  if (text.trim() === "") return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError("unreadable_body", "The request body is not valid JSON.");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw AppError.invalid([{ field: "body", message: "must be absent, empty or {}" }]);
  }
  const keys = Object.keys(value);
  if (keys.length) {
    throw AppError.invalid(keys.map((key) => ({ field: key, message: "is not a known field" })));
  }
}

function hasBody(headers: Headers): boolean {
  const length = headers.get("Content-Length");
  return headers.has("Transfer-Encoding") || (length !== null && length !== "0");
}
