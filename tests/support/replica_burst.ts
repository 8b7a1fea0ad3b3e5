// The webhook burst of the replicas test: vendor events per connection, some sent to both replicas.
import type { FakeBelvo } from "../fakes/belvo.ts";
import type { FakePluggy } from "../fakes/pluggy.ts";
import type { Random } from "../fakes/random.ts";

/** What the vendor changed for one connection before the burst, for its events to announce. */
export interface VendorChanges {
  /** The account that got new transactions, created at or after `createdFrom`. */
  accountId: string;
  createdFrom: string;
  updatedIds: string[];
  deletedIds: string[];
}

/** One connection the burst is about. */
export type BurstTarget =
  & { connection: string; accountRef: string; otherRef: string; changes: VendorChanges }
  & ({ vendor: "pluggy"; fake: FakePluggy } | { vendor: "belvo"; fake: FakeBelvo });

/** One distinct vendor event and the replicas it is delivered to (both at once for a resend). */
export interface PlannedEvent {
  target: BurstTarget;
  key: string;
  payload: Record<string, unknown>;
  /** Whether the service queues a pull for it (the rest are recorded and ignored). */
  pulls: boolean;
  replicas: number[];
}

type Event = { key: string; payload: Record<string, unknown>; pulls: boolean };

/** `count` events made by `make(i)`; `pulls` says whether the service queues a pull for them. */
function times(
  count: number,
  pulls: boolean,
  make: (i: number) => Record<string, unknown>,
): Array<{ payload: Record<string, unknown>; pulls: boolean }> {
  return Array.from({ length: count }, (_, i) => ({ payload: make(i), pulls }));
}

/** Sixteen events of a Pluggy item: syncs, created, updated, deleted, an error, another item's. */
function pluggyEvents(t: BurstTarget & { vendor: "pluggy" }): Event[] {
  const w = t.fake.webhooks;
  const { accountId, createdFrom, updatedIds, deletedIds } = t.changes;
  const itemId = t.accountRef;
  return [
    ...times(4, true, () => w.itemUpdated({ itemId })),
    ...times(
      3,
      true,
      () => w.transactionsCreated({ itemId, accountId, transactionsCreatedAtFrom: createdFrom }),
    ),
    ...times(
      3,
      true,
      (i) => w.transactionsUpdated({ itemId, accountId, transactionIds: updatedIds.slice(i) }),
    ),
    ...times(
      2,
      true,
      (i) => w.transactionsDeleted({ itemId, accountId, transactionIds: deletedIds.slice(i) }),
    ),
    ...times(2, false, () => w.itemError({ itemId })),
    ...times(2, false, () => w.itemUpdated({ itemId: t.otherRef })),
  ].map((e) => ({ key: e.payload.eventId as string, ...e }));
}

/** Sixteen events of a Belvo link: the four TRANSACTIONS codes, another type, another link's. */
function belvoEvents(t: BurstTarget & { vendor: "belvo" }): Event[] {
  const w = t.fake.webhooks;
  const linkId = t.accountRef;
  const { updatedIds, deletedIds } = t.changes;
  return [
    ...times(3, true, () => w.historicalUpdate({ linkId })),
    ...times(4, true, () => w.newTransactionsAvailable({ linkId, count: 5 })),
    ...times(3, true, () => w.transactionsUpdated({ linkId, transactionIds: updatedIds })),
    ...times(
      2,
      true,
      (i) => w.transactionsDeleted({ linkId, transactionIds: deletedIds.slice(i) }),
    ),
    ...times(2, false, () => ({ ...w.historicalUpdate({ linkId }), webhook_type: "ACCOUNTS" })),
    ...times(2, false, () => w.historicalUpdate({ linkId: t.otherRef })),
  ].map((e) => ({ key: e.payload.webhook_id as string, ...e }));
}

/**
 * Every target's sixteen events, `resent` of them delivered to both replicas at once and the rest
 * to one replica, alternating; shuffled with `random` so that connections interleave.
 */
export function planBurst(targets: BurstTarget[], resent: number, random: Random): PlannedEvent[] {
  const planned: PlannedEvent[] = [];
  let next = 0;
  for (const target of targets) {
    const events = shuffle(
      target.vendor === "pluggy" ? pluggyEvents(target) : belvoEvents(target),
      random,
    );
    events.forEach((event, i) => {
      const replicas = i < resent ? [0, 1] : [next++ % 2];
      planned.push({ target, ...event, replicas });
    });
  }
  return shuffle(planned, random);
}

/** Fisher-Yates on a copy. */
export function shuffle<T>(list: T[], random: Random): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Runs `fn` on every item with at most `limit` calls in flight. */
export async function forEachBounded<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The JSON log lines of a process (other lines skipped). */
export function jsonLines(lines: string[]): Record<string, unknown>[] {
  return lines.flatMap((text) => text.split("\n")).flatMap((line) => {
    if (!line.startsWith("{")) return [];
    try {
      return [JSON.parse(line)];
    } catch {
      return [];
    }
  });
}

/** `id:cents` of what the target's vendor lists now, every account of the item or link. */
export function vendorListing(target: BurstTarget): string[] {
  const listed = target.vendor === "pluggy"
    ? target.fake.items.find((i) => i.id === target.accountRef)!.accounts
      .flatMap((a) => target.fake.transactions(a.id))
    : target.fake.transactions(target.accountRef);
  return listed.map((t) => amountKey(t.id, t.amount)).sort();
}

/** A transaction as `id:cents`, the sign left out (each vendor signs amounts its own way). */
export function amountKey(id: string, amount: number | string): string {
  return `${id}:${Math.round(Math.abs(Number(amount)) * 100)}`;
}
