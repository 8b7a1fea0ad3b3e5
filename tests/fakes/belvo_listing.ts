// Belvo's list mechanics: Django REST framework page-number pagination and the transaction filters.
import { belvoErrorItem, type Placed } from "./belvo_data.ts";
import { brtDay } from "./random.ts";

/** A list body, or the status and Belvo error array answered instead. */
export type BelvoListing = { body: unknown } | { status: number; errors: unknown[] };

/** Largest page Belvo serves; larger `page_size` values are clamped to it. */
export const MAX_PAGE_SIZE = 1000;

/**
 * `{count, next, previous, results}` for the requested page. `next`/`previous` are absolute URLs
 * on `origin`: the request's query with `page` replaced (dropped for page 1, as DRF does).
 * A page past the end, or not a positive integer, is DRF's 404 "Invalid page.".
 */
export function paginate<T>(
  url: URL,
  origin: string,
  items: T[],
  defaultPageSize: number,
  render: (item: T) => unknown,
): BelvoListing {
  const rawSize = url.searchParams.get("page_size");
  let size = defaultPageSize;
  if (rawSize !== null) {
    if (!/^\d+$/.test(rawSize) || Number(rawSize) < 1) {
      const msg = "Ensure this value is greater than or equal to 1.";
      return { status: 400, errors: [belvoErrorItem("invalid", msg, "page_size")] };
    }
    size = Math.min(Number(rawSize), MAX_PAGE_SIZE);
  }
  const rawPage = url.searchParams.get("page");
  const lastPage = Math.max(1, Math.ceil(items.length / size));
  const page = rawPage === null ? 1 : /^\d+$/.test(rawPage) ? Number(rawPage) : 0;
  if (page < 1 || page > lastPage) {
    return { status: 404, errors: [belvoErrorItem("not_found", "Invalid page.")] };
  }
  const link = (n: number) => {
    const target = new URL(url.pathname + url.search, origin);
    if (n === 1) target.searchParams.delete("page");
    else target.searchParams.set("page", String(n));
    return target.href;
  };
  return {
    body: {
      count: items.length,
      next: page < lastPage ? link(page + 1) : null,
      previous: page > 1 ? link(page - 1) : null,
      results: items.slice((page - 1) * size, page * size).map(render),
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Checks an optional UUID query parameter; records an error when malformed. */
export function uuidParam(params: URLSearchParams, name: string, errors: unknown[]): string | null {
  const value = params.get(name);
  if (value === null || value === "") return null;
  if (!UUID.test(value)) errors.push(belvoErrorItem("invalid", "Enter a valid UUID.", name));
  return value.toLowerCase();
}

/** `YYYY-MM-DD` or a full ISO datetime; a plain day is the whole UTC day (start or end). */
function instant(value: string, end: boolean): number | undefined {
  if (DAY.test(value)) {
    const start = Date.parse(`${value}T00:00:00Z`);
    return Number.isNaN(start) ? undefined : end ? start + 86_399_999 : start;
  }
  if (!DATETIME.test(value)) return undefined;
  const withZone = /Z|[+-]\d{2}:?\d{2}$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(withZone.replace(" ", "T"));
  return Number.isNaN(ms) ? undefined : ms;
}

type Test = (p: Placed) => boolean;

/** The predicates of GET /api/transactions/ filters other than `link`, or 400 errors. */
export function transactionFilters(params: URLSearchParams): Test[] | { errors: unknown[] } {
  const errors: unknown[] = [];
  const tests: Test[] = [];
  const account = uuidParam(params, "account", errors);
  if (account) tests.push((p) => p.account.id === account);
  const created: Array<[string, (ms: number, bound: number) => boolean, boolean]> = [
    ["created_at__gte", (ms, b) => ms >= b, false],
    ["created_at__gt", (ms, b) => ms > b, true],
    ["created_at__lte", (ms, b) => ms <= b, true],
    ["created_at__lt", (ms, b) => ms < b, false],
  ];
  for (const [name, cmp, end] of created) {
    const raw = params.get(name);
    if (raw === null || raw === "") continue;
    const bound = instant(raw, end);
    if (bound === undefined) {
      errors.push(belvoErrorItem("invalid", "Enter a valid date/time.", name));
    } else tests.push((p) => cmp(p.entry.createdAtMs, bound));
  }
  const days: Array<[string, (day: string, bound: string) => boolean]> = [
    ["value_date__gte", (d, b) => d >= b],
    ["value_date__gt", (d, b) => d > b],
    ["value_date__lte", (d, b) => d <= b],
    ["value_date__lt", (d, b) => d < b],
  ];
  const dayOf = (p: Placed) => brtDay(p.entry.dateMs);
  for (const [name, cmp] of days) {
    const raw = params.get(name);
    if (raw === null || raw === "") continue;
    if (!DAY.test(raw)) errors.push(belvoErrorItem("invalid", "Enter a valid date.", name));
    else tests.push((p) => cmp(dayOf(p), raw));
  }
  const range = params.get("value_date__range");
  if (range) {
    const [from, to] = range.split(",");
    if (!DAY.test(from ?? "") || !DAY.test(to ?? "")) {
      errors.push(belvoErrorItem("invalid", "Enter a valid date range.", "value_date__range"));
    } else tests.push((p) => dayOf(p) >= from && dayOf(p) <= to);
  }
  const choice = (name: string, allowed: string[], test: (p: Placed, v: string) => boolean) => {
    const raw = params.get(name);
    if (raw === null || raw === "") return;
    if (!allowed.includes(raw)) {
      const msg = `Select a valid choice. ${raw} is not one of the available choices.`;
      errors.push(belvoErrorItem("invalid_choice", msg, name));
    } else tests.push((p) => test(p, raw));
  };
  choice("type", ["INFLOW", "OUTFLOW"], (p, v) => (v === "INFLOW") === p.entry.credit);
  choice(
    "status",
    ["PENDING", "PROCESSED", "UNCATEGORIZED"],
    (p, v) => v === "UNCATEGORIZED" ? false : (v === "PENDING") === p.entry.pending,
  );
  return errors.length > 0 ? { errors } : tests;
}
