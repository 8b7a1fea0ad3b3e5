// Follows a list operation's cursor from page to page and yields its items one at a time.
import type { Client } from "openapi-fetch";
import { MatcherApiError } from "./api_error.ts";
import type { paths } from "./types.ts";

/** The cursor envelope every list operation of the service answers. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  limit: number;
  hasMore: boolean;
}

type GetOf<P extends keyof paths> = paths[P] extends { get: infer O } ? O : never;
type PageOf<P extends keyof paths> = GetOf<P> extends
  { responses: { 200: { content: { "application/json": infer B } } } } ? B : never;
type ParamsOf<P extends keyof paths> = GetOf<P> extends { parameters: infer X } ? X : never;
/** Whether an object with no properties fits X, i.e. none of X's properties is required. */
type NoneRequired<X> = Record<never, never> extends X ? true : false;

/**
 * Every path whose GET answers the cursor envelope. It is computed from the generated `paths`, so
 * a list operation added to openapi.yaml can be paginated as soon as `deno task gen` has run.
 */
export type ListPath = {
  // A path without a GET has no page: never, which would otherwise pass the test below.
  [P in keyof paths]: [PageOf<P>] extends [never] ? never
    : PageOf<P> extends Page<unknown> ? P
    : never;
}[keyof paths];

/** The type of one item of a list path's pages. */
export type ListItem<P extends ListPath> = PageOf<P> extends Page<infer T> ? T : never;

/**
 * What `paginate` takes: the operation's `params` as `GET` takes them (`query.limit` is the page
 * size; `query.cursor`, or the change feed's `query.after`, when given, is where to start), and
 * optionally a signal and headers.
 */
export type PaginateOptions<P extends ListPath> =
  & (NoneRequired<ParamsOf<P>> extends true ? { params?: ParamsOf<P> }
    : { params: ParamsOf<P> })
  & { signal?: AbortSignal; headers?: HeadersInit };

/** The options argument is optional exactly when the operation has no required parameter. */
export type PaginateArgs<P extends ListPath> = NoneRequired<ParamsOf<P>> extends true
  ? [PaginateOptions<P>?]
  : [PaginateOptions<P>];

/** `matcher.paginate`: see {@link paginate}. */
export type Paginate = <P extends ListPath>(
  path: P,
  ...options: PaginateArgs<P>
) => AsyncGenerator<ListItem<P>, void, undefined>;

/**
 * The list operations that take the cursor to start after as `after` rather than `cursor`: the
 * change feed, whose cursor a consumer saves and gives back.
 */
const AFTER_CURSOR: ReadonlySet<string> = new Set(["/v1/discovery/transactions/changes"]);

type LooseGet = (
  path: string,
  init: {
    params: { query?: Record<string, unknown> };
    signal?: AbortSignal;
    headers?: HeadersInit;
  },
) => Promise<{ data?: Page<unknown>; error?: unknown; response: Response }>;

/**
 * Yields every item of a list operation, asking for the next page only when the caller has taken
 * the items of the one before. A failed page throws a {@link MatcherApiError} carrying the
 * service's error envelope, so a loop never ends early as if the list were complete.
 */
export async function* paginate<P extends ListPath>(
  client: Client<paths>,
  path: P,
  ...[options]: PaginateArgs<P>
): AsyncGenerator<ListItem<P>, void, undefined> {
  // One typed call per list path is not expressible for a generic P; the loop needs only the
  // envelope, which ListPath guarantees.
  const get = client.GET as unknown as LooseGet;
  const params = (options?.params ?? {}) as { query?: Record<string, unknown> };
  const key = AFTER_CURSOR.has(path) ? "after" : "cursor";
  let cursor = params.query?.[key] as string | undefined;
  for (;;) {
    const query = { ...params.query, [key]: cursor };
    const { data, error, response } = await get(path, {
      params: { ...params, query },
      signal: options?.signal,
      headers: options?.headers,
    });
    if (!data) throw new MatcherApiError(response, error);
    yield* data.items as ListItem<P>[];
    if (!data.hasMore) return;
    // A page that promises more without a new cursor would otherwise be asked for forever.
    if (!data.nextCursor || data.nextCursor === cursor) {
      throw new Error(`${path}: hasMore without a new nextCursor`);
    }
    cursor = data.nextCursor;
  }
}
