// Files served to browsers from memory (media type, ETag, 304) and the pages' Content-Security-Policy.
import type { Context } from "hono";
import { extname } from "node:path";

/** One file, read once, and gzipped once when it is text. */
export interface StaticFile {
  body: Uint8Array<ArrayBuffer>;
  gzip?: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

const MEDIA_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".html": "text/html; charset=utf-8",
};

/**
 * The policy of every page the service serves: nothing from another origin, no inline script or
 * style, no `<base>`, forms only to itself, never framed. `extra` adds directives a page needs.
 */
export function pagePolicy(extra: string[] = []): string {
  return [
    "default-src 'self'",
    ...extra,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** The headers of an HTML page under `policy`. */
export function pageHeaders(policy: string): Record<string, string> {
  return {
    "Content-Security-Policy": policy,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
  };
}

/**
 * Reads `files` (name to path or file URL) on first use and keeps them; a failed read is tried
 * again on the next use. Files are read lazily so that building an app reads nothing.
 */
export function staticFiles(
  files: () => Record<string, string | URL> | Promise<Record<string, string | URL>>,
): () => Promise<Map<string, StaticFile>> {
  let loaded: Promise<Map<string, StaticFile>> | undefined;
  async function load() {
    const entries = Object.entries(await files());
    return new Map(
      await Promise.all(entries.map(async ([name, path]) => [name, await readFile(path)] as const)),
    );
  }
  return () => {
    loaded ??= load().catch((err) => {
      loaded = undefined;
      throw err;
    });
    return loaded;
  };
}

async function readFile(path: string | URL): Promise<StaticFile> {
  const body = await Deno.readFile(path);
  const name = typeof path === "string" ? path : path.pathname;
  const type = MEDIA_TYPES[extname(name)];
  if (!type) throw new Error(`no media type for ${extname(name)} files`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  const hex = Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
  const text = type.startsWith("text/") || type === "image/svg+xml";
  return { body, gzip: text ? await gzipped(body) : undefined, type, etag: `"${hex}"` };
}

async function gzipped(body: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([body]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The client takes gzip: `Accept-Encoding` names it (or `*`) without `q=0`. */
function acceptsGzip(acceptEncoding: string | undefined): boolean {
  return (acceptEncoding ?? "").split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    return (coding === "gzip" || coding === "*") && !params.some((p) => /^\s*q=0(\.0*)?$/.test(p));
  });
}

/** `If-None-Match` names `etag` (weak or strong), or is `*`. */
function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}

/**
 * The file (gzipped when the client takes it: Swagger UI's bundle is 1.7 MB, 0.5 MB gzipped), or
 * a 304 when the browser already has this version.
 */
export function fileResponse(c: Context, file: StaticFile): Response {
  const gzip = file.gzip && acceptsGzip(c.req.header("Accept-Encoding")) ? file.gzip : undefined;
  // Each encoding is its own representation, so it gets its own tag.
  const etag = gzip ? `${file.etag.slice(0, -1)}-gzip"` : file.etag;
  const headers: Record<string, string> = {
    "Content-Type": file.type,
    ETag: etag,
    // Kept, but checked with the ETag on every use: an upgrade shows at once.
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
  };
  if (file.gzip) headers["Vary"] = "Accept-Encoding";
  if (notModified(c.req.header("If-None-Match"), etag)) return c.body(null, 304, headers);
  if (gzip) headers["Content-Encoding"] = "gzip";
  return c.body(gzip ?? file.body, 200, headers);
}
