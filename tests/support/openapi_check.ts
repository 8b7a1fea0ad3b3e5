// openapi.yaml's operations, and a check that an answer is one the spec declares (Ajv, JSON Schema 2020-12).
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { ValidateFunction } from "ajv";
import { parse } from "yaml";

// deno-lint-ignore no-explicit-any
export type Json = any;

/** ajv-formats is CommonJS: Deno hands over `module.exports` as the default export. */
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

const METHODS = ["get", "put", "post", "delete", "patch"] as const;
const SPEC_ID = "https://matcher.test/openapi.json";

export interface Operation {
  operationId: string;
  method: string;
  /** The path template, e.g. `/v1/discovery/pulls/{pullId}`. */
  path: string;
  /** Path, query and header parameters, references resolved. */
  parameters: Json[];
  /** The JSON request body's schema, references resolved at the top level only. */
  body?: Json;
  /** `bearer`, `metrics` or `none`. */
  security: "bearer" | "metrics" | "none";
  /** Declared status codes and their resolved response objects. */
  responses: Map<number, Json>;
}

export async function loadSpec(): Promise<Json> {
  return parse(await Deno.readTextFile(new URL("../../openapi.yaml", import.meta.url)));
}

/** Follows `#/...` references inside `doc` until `value` is not one. */
export function deref(value: Json, doc: Json): Json {
  let v = value;
  while (v?.$ref) v = v.$ref.slice(2).split("/").reduce((o: Json, k: string) => o[k], doc);
  return v;
}

/** Every operation of the spec. */
export function operations(doc: Json): Operation[] {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method): Operation => {
      const op = item[method];
      const security = op.security ?? doc.security ?? [];
      const scheme = Object.keys(security[0] ?? {})[0];
      return {
        operationId: op.operationId,
        method: method.toUpperCase(),
        path,
        parameters: [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) =>
          deref(p, doc)
        ),
        body: op.requestBody
          ? deref(deref(op.requestBody, doc).content["application/json"].schema, doc)
          : undefined,
        security: scheme === "bearerAuth"
          ? "bearer"
          : scheme === "metricsToken"
          ? "metrics"
          : "none",
        responses: new Map(
          Object.entries(op.responses).map(([status, r]) => [Number(status), deref(r, doc)]),
        ),
      };
    })
  );
}

/** Rewrites local `#/components/...` references so they resolve against the spec's $id. */
function absoluteRefs(value: Json): Json {
  if (Array.isArray(value)) return value.map(absoluteRefs);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === "$ref" && typeof v === "string" && v.startsWith("#/")
        ? `${SPEC_ID}${v}`
        : absoluteRefs(v),
    ]),
  );
}

/** An answer as the client read it. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** Checks answers of any operation against the spec; `check` answers the problems found. */
export function createAnswerChecker(doc: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ $id: SPEC_ID, components: absoluteRefs(doc.components) });
  const compiled = new Map<Json, ValidateFunction>();
  const validator = (schema: Json) => {
    let v = compiled.get(schema);
    if (!v) compiled.set(schema, v = ajv.compile(absoluteRefs(schema)));
    return v;
  };
  const errorSchema = validator({ $ref: "#/components/schemas/Error" });

  return function check(op: Operation, answer: Answer): string[] {
    const problems: string[] = [];
    const { status, headers, text } = answer;
    if (status >= 500) problems.push(`status ${status} (a server error)`);
    const declared = op.responses.get(status);
    if (!declared) {
      problems.push(`status ${status} is not declared for ${op.operationId}`);
      return problems;
    }
    for (const [name, header] of Object.entries(declared.headers ?? {})) {
      const { required, schema } = deref(header, doc);
      // A header declared `required: false` may be absent (Idempotency-Replayed, on a replay only).
      if (!headers.has(name) && required !== false) {
        problems.push(`declared header ${name} is missing`);
      }
      const value = headers.get(name);
      if (value !== null && schema?.enum && !schema.enum.includes(value)) {
        problems.push(`header ${name} is "${value}", not one of ${schema.enum.join(", ")}`);
      }
    }
    const content = declared.content as Record<string, Json> | undefined;
    if (!content) {
      if (text !== "") problems.push(`a ${status} declares no body but has ${text.length} chars`);
      return problems;
    }
    const type = (headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    const media = content[type];
    if (!media) {
      problems.push(`content-type "${type}" is not one of ${Object.keys(content).join(", ")}`);
      return problems;
    }
    if (type !== "application/json") return problems;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      problems.push("the JSON body does not parse");
      return problems;
    }
    const validate = validator(media.schema);
    if (!validate(body)) {
      problems.push(`body does not match the schema: ${ajv.errorsText(validate.errors)}`);
    }
    if (status >= 400 && status < 500 && !errorSchema(body)) {
      problems.push(`a ${status} body is not the error envelope`);
    }
    return problems;
  };
}
