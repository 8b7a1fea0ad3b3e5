// Seeded randomness and the vendor-neutral ledger that both fake vendors render in their own shapes.

/** A source of deterministic pseudo-random numbers in [0, 1). */
export type Random = () => number;

/** Returns mulberry32 seeded with `seed`: the same seed always yields the same sequence. */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return function next() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max], both inclusive. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** One element of a non-empty list. */
export function pick<T>(random: Random, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)];
}

/** `length` lowercase hex digits, eight per draw. */
export function randomHex(random: Random, length: number): string {
  let out = "";
  while (out.length < length) {
    out += Math.floor(random() * 4294967296).toString(16).padStart(8, "0");
  }
  return out.slice(0, length);
}

/** `length` decimal digits (may start with 0), nine per draw. */
export function randomDigits(random: Random, length: number): string {
  let out = "";
  while (out.length < length) out += Math.floor(random() * 1e9).toString().padStart(9, "0");
  return out.slice(0, length);
}

const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A version-4 UUID drawn from `random` (four draws plus one for the variant). */
export function randomUuid(random: Random): string {
  const b: string[] = [];
  for (let i = 0; i < 4; i++) {
    const word = Math.floor(random() * 4294967296);
    b.push(
      BYTE_HEX[word >>> 24],
      BYTE_HEX[(word >>> 16) & 255],
      BYTE_HEX[(word >>> 8) & 255],
      BYTE_HEX[word & 255],
    );
  }
  b[6] = "4" + b[6][1];
  b[8] = "89ab"[Math.floor(random() * 4)] + b[8][1];
  return `${b[0]}${b[1]}${b[2]}${b[3]}-${b[4]}${b[5]}-${b[6]}${b[7]}-${b[8]}${b[9]}-${b[10]}${
    b[11]
  }${b[12]}${b[13]}${b[14]}${b[15]}`;
}

/** A 32-hex-digit id from Web Crypto, for values that need not be reproducible (request ids). */
export function cryptoHex32(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/** One transaction as both fakes store it; each vendor renders it into its own JSON shape. */
export interface LedgerEntry {
  id: string;
  /** When the vendor first stored it (ms since epoch); the list order key, with `id`. */
  createdAtMs: number;
  updatedAtMs: number;
  /** Booking day, as the UTC ms of that day's 00:00 in Brasília (03:00Z). */
  dateMs: number;
  /** Magnitude in cents, always positive; `credit` says the direction. */
  amountCents: number;
  /** Money into the account (Pluggy CREDIT, Belvo INFLOW). */
  credit: boolean;
  pending: boolean;
  /** Account balance after this entry, in cents. */
  balanceCents: number;
  /** Seed of the descriptive fields (description, merchant, category...). */
  variant: number;
  /** Bumped by each update; changes the description. */
  revision: number;
}

const DAY_MS = 86_400_000;
const BRT_OFFSET_MS = 3 * 3_600_000;
/** Generated history starts here, so data never depends on the wall clock. */
export const HISTORY_START_MS = Date.UTC(2024, 0, 1);
const HISTORY_SPAN_MS = 365 * DAY_MS;

/** Orders entries by createdAt ascending, then id ascending: the order both fakes list in. */
export function compareEntries(a: LedgerEntry, b: LedgerEntry): number {
  if (a.createdAtMs !== b.createdAtMs) return a.createdAtMs - b.createdAtMs;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The Brasília calendar day, 03:00Z, on or before `ms` minus up to `maxDaysBack` days. */
function bookingDay(random: Random, ms: number, maxDaysBack: number): number {
  const local = ms - BRT_OFFSET_MS - randomInt(random, 0, maxDaysBack) * DAY_MS;
  return Math.floor(local / DAY_MS) * DAY_MS + BRT_OFFSET_MS;
}

function newEntry(random: Random, createdAtMs: number, balanceCents: number): LedgerEntry {
  const credit = random() < 0.3;
  const amountCents = credit ? randomInt(random, 5_000, 900_000) : randomInt(random, 150, 250_000);
  return {
    id: randomUuid(random),
    createdAtMs,
    updatedAtMs: createdAtMs,
    dateMs: bookingDay(random, createdAtMs, 3),
    amountCents,
    credit,
    pending: random() < 0.05,
    balanceCents: balanceCents + (credit ? amountCents : -amountCents),
    variant: Math.floor(random() * 4294967296),
    revision: 0,
  };
}

/**
 * Generates `count` entries spread over 2024, sorted as the APIs list them. About a third share
 * their createdAt with the previous entry (vendors store a sync's batch at one instant), so the
 * id tie-break matters. O(n log n); 100,000 entries take well under a second.
 */
export function generateLedger(
  random: Random,
  count: number,
  openingBalanceCents: number,
): LedgerEntry[] {
  const times = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    times[i] = HISTORY_START_MS + Math.floor(random() * HISTORY_SPAN_MS);
  }
  times.sort();
  for (let i = 1; i < count; i++) if (random() < 0.35) times[i] = times[i - 1];
  const entries: LedgerEntry[] = new Array(count);
  for (let i = 0; i < count; i++) entries[i] = newEntry(random, times[i], 0);
  entries.sort(compareEntries);
  let balance = openingBalanceCents;
  for (const entry of entries) {
    balance += entry.credit ? entry.amountCents : -entry.amountCents;
    entry.balanceCents = balance;
  }
  return entries;
}

/** Makes `count` new entries created at `nowMs`, continuing the balance of `entries`. */
export function appendEntries(
  random: Random,
  entries: LedgerEntry[],
  count: number,
  nowMs: number,
): LedgerEntry[] {
  const added: LedgerEntry[] = [];
  let balance = entries.length > 0 ? entries[entries.length - 1].balanceCents : 0;
  for (let i = 0; i < count; i++) {
    const entry = newEntry(random, nowMs, balance);
    balance = entry.balanceCents;
    entry.dateMs = bookingDay(random, nowMs, 0);
    insertSorted(entries, entry);
    added.push(entry);
  }
  return added.sort(compareEntries);
}

/** Inserts keeping `compareEntries` order (binary search; appends in O(1) for new data). */
export function insertSorted(entries: LedgerEntry[], entry: LedgerEntry): void {
  insertBy(entries, entry, compareEntries);
}

/** Inserts `item` into `list`, which is sorted by `compare`, keeping it sorted. */
export function insertBy<T>(list: T[], item: T, compare: (a: T, b: T) => number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(list[mid], item) < 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
}

/** Index of the first entry strictly after the (createdAtMs, id) position. */
export function indexAfter(entries: LedgerEntry[], createdAtMs: number, id: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = entries[mid];
    const before = e.createdAtMs < createdAtMs || (e.createdAtMs === createdAtMs && e.id <= id);
    if (before) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Changes an entry as a vendor re-sync would: new description revision, amount nudged. */
export function reviseEntry(random: Random, entry: LedgerEntry, nowMs: number): void {
  entry.revision += 1;
  entry.amountCents += randomInt(random, 1, 999);
  entry.updatedAtMs = Math.max(nowMs, entry.updatedAtMs + 1);
}

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
const dayStrings = new Map<number, string>();

/** `YYYY-MM-DD` of a day number (days since 1970-01-01), cached: Date#toISOString is slow. */
function dayString(day: number): string {
  let s = dayStrings.get(day);
  if (s === undefined) dayStrings.set(day, s = new Date(day * DAY_MS).toISOString().slice(0, 10));
  return s;
}

/** ISO timestamp with milliseconds, e.g. `2024-12-09T21:56:58.601Z` (same as Date#toISOString). */
export function isoMs(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  let rest = ms - day * DAY_MS;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const sec = Math.floor(rest / 1000);
  return `${dayString(day)}T${PAD2[h]}:${PAD2[m]}:${PAD2[sec]}.${PAD3[rest - sec * 1000]}Z`;
}

/** The `YYYY-MM-DD` Brasília calendar day of a `dateMs`. */
export function brtDay(dateMs: number): string {
  return dayString(Math.floor((dateMs - BRT_OFFSET_MS) / DAY_MS));
}

/** Cents as a number of currency units with two decimals. */
export function units(cents: number): number {
  return Math.round(cents) / 100;
}
