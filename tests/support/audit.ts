// Helpers for the audit trail's tests: reading it through the API, failing a commit in Postgres
// itself, and KV and SQL handles that fail at a chosen moment.
import assert from "node:assert/strict";
import type { Sql } from "../../src/db/pool.ts";
import type { Broker } from "../../src/events/broker.ts";
import type { Harness } from "./harness.ts";
import type { Json } from "./vendor_calls.ts";

export const AUDIT = "/v1/discovery/audit-events";

/** Every audit event the tenant can list (`query` narrows it), newest first, page by page. */
export async function auditTrail(h: Harness, tenant: string, query = ""): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams(query);
    params.set("limit", "200");
    if (cursor) params.set("cursor", cursor);
    const res = await h.request(`${AUDIT}?${params}`, { tenant });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    items.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor);
  return items;
}

/** Every row of audit_events, oldest first, straight from the table. */
export async function auditRows(sql: Sql): Promise<Json[]> {
  return [...await sql`select * from audit_events order by occurred_at, id`];
}

/**
 * Makes Postgres itself refuse to commit a transaction that inserts an audit record whose request
 * id starts with `fail-commit` (always) or `fail-once` (the first such transaction only; a
 * sequence counts, as nextval outlives a rollback): a deferred constraint trigger raises at
 * COMMIT, after every statement of the transaction (and any KV commit inside it) went through.
 */
export async function failCommitsByRequestId(sql: Sql): Promise<void> {
  await sql.unsafe(`
    create sequence test_fail_once;
    create function test_fail_audit_commit() returns trigger language plpgsql as $$
    begin
      if new.request_id like 'fail-commit%'
         or (new.request_id like 'fail-once%' and nextval('test_fail_once') = 1) then
        raise exception 'injected commit failure for %', new.request_id;
      end if;
      return null;
    end $$;
    create constraint trigger test_fail_audit_commit after insert on audit_events
      deferrable initially deferred for each row execute function test_fail_audit_commit();`);
}

/**
 * Makes Postgres refuse to commit a change of the connection named in `test_fail_changes`
 * (inserted, updated or deleted, or a pull of it queued): a deferred constraint trigger on the
 * change's own table raises at COMMIT. A record written beside the change, outside its
 * transaction, would outlive it.
 */
export async function failChangesOfNamedConnections(sql: Sql): Promise<void> {
  await sql.unsafe(`
    create table test_fail_changes (config_name text primary key);
    create function test_fail_change() returns trigger language plpgsql as $$
    begin
      -- The argument names the column of NEW that holds the connection's id.
      if exists (select 1 from test_fail_changes f join connections c on c.config_name = f.config_name
                 where c.id = (to_jsonb(new) ->> tg_argv[0])::uuid) then
        raise exception 'injected commit failure of a change to %', tg_table_name;
      end if;
      return null;
    end $$;
    create constraint trigger test_fail_connection_change after insert or update on connections
      deferrable initially deferred for each row execute function test_fail_change('id');
    create constraint trigger test_fail_pull_change after insert or update on pull_jobs
      deferrable initially deferred for each row execute function test_fail_change('connection_id');`);
}

/** A broker nobody publishes to: events are on (the outbox is written), the relay never starts. */
export const idleBroker: Broker = {
  connected: false,
  publish: () => Promise.resolve([]),
  close: () => Promise.resolve(),
};

/** The bodies of the audit events in the outbox, by the audit record's id. */
export async function outboxAuditBodies(sql: Sql): Promise<Map<string, Json>> {
  const rows = await sql<{ body: string }[]>`
    select body from event_outbox where routing_key = 'discovery.audit_log_created'`;
  const bodies = rows.map((r) => JSON.parse(r.body) as Json);
  const byId = new Map(bodies.map((b) => [b.auditEventId as string, b]));
  assert.equal(byId.size, bodies.length, "one event per audit record");
  return byId;
}

/** Binds each method to `target`, whose natives need their own `this`. */
function bound<T extends object>(target: T, prop: string | symbol): unknown {
  const value = Reflect.get(target, prop, target);
  return typeof value === "function" ? value.bind(target) : value;
}

/** A Deno KV whose atomic commits can be made to throw, as a KV that went away would. */
export function faultyKv(kv: Deno.Kv): {
  kv: Deno.Kv;
  /** The `n` commits after the next `after` throw (without committing). */
  failCommits(n: number, options?: { after?: number }): void;
} {
  let skips = 0;
  let failures = 0;
  const wrap = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        if (prop === "commit") {
          return () => {
            if (skips > 0) skips--;
            else if (failures > 0) {
              failures--;
              return Promise.reject(new Error("injected: KV unavailable"));
            }
            return target.commit();
          };
        }
        const value = bound(target, prop);
        if (typeof value !== "function") return value;
        // check/set/delete/... answer the operation itself: keep answering the proxy.
        return (...args: unknown[]) => {
          const out = (value as (...a: unknown[]) => unknown)(...args);
          return out === target ? proxy : out;
        };
      },
    });
    return proxy;
  };
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") return () => wrap(target.atomic());
      return bound(target, prop);
    },
  });
  return {
    kv: proxy,
    failCommits(n, options = {}) {
      failures = n;
      skips = options.after ?? 0;
    },
  };
}

/**
 * A postgres.js handle whose next `sql.begin` commits and then throws as if the connection had
 * been lost during COMMIT (the outcome unknown to the caller), and whose plain queries right after
 * may fail too (the database still away).
 */
export function faultySql(sql: Sql) {
  let lostCommits = 0;
  let queriesAfter = 0;
  let failedQueries = 0;
  const lost = () =>
    Object.assign(new Error("injected: connection lost"), { code: "CONNECTION_CLOSED" });
  const proxy = new Proxy(sql, {
    apply(target, thisArg, args) {
      if (failedQueries > 0) {
        failedQueries--;
        return Promise.reject(lost());
      }
      return Reflect.apply(target, thisArg, args);
    },
    get(target, prop) {
      if (prop === "begin") {
        return async (...args: unknown[]) => {
          const result = await (target.begin as (...a: unknown[]) => Promise<unknown>)(...args);
          if (lostCommits > 0) {
            lostCommits--;
            failedQueries = queriesAfter;
            throw lost();
          }
          return result;
        };
      }
      return bound(target, prop);
    },
  });
  return {
    sql: proxy as Sql,
    /**
     * The next `n` transactions commit, and their callers hear that the connection was lost; the
     * `queriesAfter` queries outside a transaction that follow each fail the same way.
     */
    loseNextCommits(n: number, options: { queriesAfter?: number } = {}) {
      lostCommits = n;
      queriesAfter = options.queriesAfter ?? 0;
    },
  };
}
