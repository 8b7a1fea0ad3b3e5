// What makes two requests "the same request" for an Idempotency-Key, as one byte string to hash.

/** The parts of a request its fingerprint covers. */
export interface RequestParts {
  /** Upper case: POST, PUT, DELETE. */
  method: string;
  /** The route's pattern as openapi.yaml writes it (`/v1/discovery/pulls/{pullId}/retry`). */
  route: string;
  /** The path parameters, decoded. */
  params: Record<string, string>;
  /** The body's bytes as received (empty when there is none). */
  body: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * The bytes a fingerprint hashes: method, route and path parameters, then the body. A JSON body
 * counts by its meaning (keys sorted, white space dropped), so a client that sends the same object
 * again with its keys in another order is not refused; any other body counts byte for byte.
 */
export function fingerprintBytes(request: RequestParts): Uint8Array<ArrayBuffer> {
  const params = Object.entries(request.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const json = canonicalJson(request.body);
  const head = JSON.stringify([request.method, request.route, params, json === undefined ? 0 : 1]);
  // The head is JSON text, which holds no raw line feed: the first one ends it.
  const body = json === undefined ? request.body : encoder.encode(json);
  const bytes = new Uint8Array(head.length * 3 + 1 + body.length);
  const { written } = encoder.encodeInto(`${head}\n`, bytes);
  bytes.set(body, written);
  return bytes.slice(0, written + body.length);
}

/** The body as canonical JSON text, or undefined when it is empty or not UTF-8 JSON. */
export function canonicalJson(body: Uint8Array): string | undefined {
  if (!body.length) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    return undefined;
  }
  return canonical(value);
}

/** JSON text with object keys sorted by code unit; built as text, so no key (`__proto__`) is special. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value).sort().map((key) =>
      `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`
    );
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}
