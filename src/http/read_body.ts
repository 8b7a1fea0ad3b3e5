// Reads a request body as JSON with a size cap, for routes that must check something before the body.
import { mayBeUnstorable, storable } from "../db/storable_json.ts";
import { AppError } from "../lib/app_error.ts";

/**
 * The body parsed as JSON, read no further than `maxBytes`: 413 beyond it, 400 when it is not
 * UTF-8 JSON. Content-Length is trusted only to refuse early; the bytes read are what count.
 */
export async function readJsonCapped(request: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () =>
    new AppError("body_too_large", `The request body is larger than ${maxBytes} bytes.`);
  if (Number(request.headers.get("content-length")) > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    // Postgres cannot store U+0000 nor a lone UTF-16 surrogate (both only reach here as JSON
    // escapes); neither carries meaning in a vendor's payload, so NUL goes and a lone surrogate
    // becomes U+FFFD, in keys as in values.
    return mayBeUnstorable(text) ? JSON.parse(text, storable) : JSON.parse(text);
  } catch {
    throw new AppError("unreadable_body", "The request body is not valid JSON.");
  }
}
