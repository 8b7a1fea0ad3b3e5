-- What webhooks ask a pull to fetch again or hide, one row per transaction id, and the functions
-- that queue work and record a batch of webhooks in one statement.
--
-- A queued pull absorbs every later trigger of its connection. Kept inside `pull_jobs.work`, the
-- ids of `transactions/updated` and `transactions/deleted` grew that row without bound and each
-- merge rewrote all of it; as rows of their own, a merge costs what it adds. `work` keeps only
-- what stays small: `sync`, `createdFrom` (one timestamp per account) and `full` (accounts whose
-- ids to fetch again outgrew the limit, walked whole instead).

create table pull_job_items (
  pull_id     uuid not null references pull_jobs (id) on delete cascade,
  kind        text not null check (kind in ('ids', 'deleted')),
  account_id  text not null,  -- '' for deletions, which name no account
  external_id text not null,
  primary key (pull_id, kind, account_id, external_id)
);

insert into pull_job_items (pull_id, kind, account_id, external_id)
select p.id, 'ids', a.key, x.value
from pull_jobs p, jsonb_each(p.work -> 'ids') a, jsonb_array_elements_text(a.value) x
where jsonb_typeof(p.work -> 'ids') = 'object'
on conflict do nothing;
insert into pull_job_items (pull_id, kind, account_id, external_id)
select p.id, 'deleted', '', x.value
from pull_jobs p, jsonb_array_elements_text(p.work -> 'deleted') x
where jsonb_typeof(p.work -> 'deleted') = 'array'
on conflict do nothing;
update pull_jobs set work = work - 'ids' - 'deleted' where work ? 'ids' or work ? 'deleted';

-- The work of both: sync if either syncs, the earlier created-from of each account, the union of
-- the accounts walked whole. PL/pgSQL for its early return: the common cases (a webhook flood of
-- one sync: the same work again, or nothing new) cost no query.
create function merge_pull_work(a jsonb, b jsonb) returns jsonb
language plpgsql immutable parallel safe as $$
begin
  if b = '{}'::jsonb or a = b then return a; end if;
  if a = '{}'::jsonb then return b; end if;
  return jsonb_strip_nulls(jsonb_build_object(
    'sync', case when coalesce((a ->> 'sync')::boolean, false)
                   or coalesce((b ->> 'sync')::boolean, false) then true end,
    'createdFrom', (
      select jsonb_object_agg(account, earliest) from (
        select f.key as account,
               (array_agg(f.value order by (f.value #>> '{}')::timestamptz))[1] as earliest
        from (select * from jsonb_each(coalesce(a -> 'createdFrom', '{}'))
              union all
              select * from jsonb_each(coalesce(b -> 'createdFrom', '{}'))) f
        group by f.key) e),
    'full', (
      select jsonb_agg(distinct x order by x)
      from (select jsonb_array_elements_text(coalesce(a -> 'full', '[]')) as x
            union
            select jsonb_array_elements_text(coalesce(b -> 'full', '[]'))) u)));
end
$$;

create aggregate merge_pull_work_agg(jsonb) (
  sfunc = merge_pull_work,
  stype = jsonb,
  initcond = '{}'
);

-- Queues each request of `p_requests` ([{tenant_id, connection_id, trigger, work, items, created,
-- due}], one per connection; items [{kind, account, id}]) for its connection, or merges it into the
-- connection's queued pull (one per connection: the partial unique index), and answers each
-- connection's pull id. A conflict locks the queued row, so a worker cannot claim it meanwhile;
-- a pull the merge adds nothing to is left as it is. Past `p_ids_limit` ids of one account, its ids
-- give way to a walk of the whole account, which covers any change with a number of vendor calls
-- the account's size bounds rather than what was announced. Set-based, whatever the number of
-- connections: a few statements, in connection order (two callers never lock rows in opposite
-- orders). Plans are made for each call's values: generic plans cached while a table was empty
-- would scan it once it has grown.
create function queue_pulls(p_requests jsonb, p_ids_limit integer)
returns table (connection_id uuid, pull_id uuid)
language plpgsql
set enable_seqscan = off
as $$
#variable_conflict use_column
declare
  v_pulls jsonb;
begin
  -- The queued pulls ids will be added to are locked first, so that no worker claims one before
  -- this commits, without writing them (a delivery adding ids already there rewrites nothing).
  perform 1 from pull_jobs q
  where q.status = 'queued' and q.connection_id = any(array(
    select r.connection_id from jsonb_to_recordset(p_requests) as r(connection_id uuid, items jsonb)
    where jsonb_array_length(case jsonb_typeof(r.items) when 'array' then r.items else '[]' end) > 0))
  order by q.connection_id
  for no key update;

  with wanted as (
    select * from jsonb_to_recordset(p_requests) as r(tenant_id uuid, connection_id uuid,
      trigger text, work jsonb, items jsonb, created timestamptz, due timestamptz)
  ),
  -- Looked up one connection at a time (an index probe each, whatever the table's size).
  current as (
    select j.* from wanted w
    cross join lateral (
      select q.connection_id, q.id, q.work, q.next_attempt_at from pull_jobs q
      where q.connection_id = w.connection_id and q.status = 'queued' limit 1) j
  ),
  -- Only what changes a queued pull's work (or has none) is written; a request that adds nothing
  -- to it just answers its id (a webhook flood of the same sync writes no pull at all).
  changing as (
    select w.* from wanted w
    left join current c on c.connection_id = w.connection_id
    where c.id is null or merge_pull_work(c.work, w.work) is distinct from c.work
       or w.due < c.next_attempt_at
  ),
  upserted as (
    insert into pull_jobs as p (id, tenant_id, connection_id, trigger, status, work,
                                next_attempt_at, created_at)
    select gen_random_uuid(), w.tenant_id, w.connection_id, w.trigger, 'queued', w.work, w.due,
           date_trunc('milliseconds', w.created)
    from changing w
    order by w.connection_id
    on conflict (connection_id) where status = 'queued' do update
      set work = merge_pull_work(p.work, excluded.work),
          next_attempt_at = least(p.next_attempt_at, excluded.next_attempt_at)
    returning p.id, p.connection_id, p.work
  )
  select coalesce(jsonb_object_agg(q.connection_id, jsonb_build_object('id', q.id, 'work', q.work)),
                  '{}')
  into v_pulls
  from (
    select u.connection_id, u.id, u.work from upserted u
    union all
    select c.connection_id, c.id, c.work from current c
    where not exists (select 1 from changing w where w.connection_id = c.connection_id)
  ) q;

  if exists (select 1 from jsonb_to_recordset(p_requests) as r(items jsonb)
             where jsonb_array_length(case jsonb_typeof(r.items) when 'array' then r.items else '[]' end) > 0) then
    insert into pull_job_items (pull_id, kind, account_id, external_id)
    select (v_pulls -> r.connection_id::text ->> 'id')::uuid, i.kind, i.account, i.id
    from jsonb_to_recordset(p_requests) as r(connection_id uuid, items jsonb),
         jsonb_to_recordset(case jsonb_typeof(r.items) when 'array' then r.items else '[]' end) as i(kind text, account text, id text)
    where not (i.kind = 'ids'
               and coalesce(v_pulls -> r.connection_id::text -> 'work' -> 'full', '[]') ? i.account)
    order by 1, 2, 3, 4
    on conflict do nothing;

    with grown as (
      select t.pull_id, jsonb_agg(distinct t.account_id) as accounts
      from (
        select t.pull_id, t.account_id from pull_job_items t
        where t.pull_id in (select (v_pulls -> r.connection_id::text ->> 'id')::uuid
                            from jsonb_to_recordset(p_requests) as r(connection_id uuid, items jsonb)
                            where jsonb_array_length(case jsonb_typeof(r.items) when 'array' then r.items else '[]' end) > 0)
          and t.kind = 'ids'
        group by t.pull_id, t.account_id
        having count(*) > p_ids_limit) t
      group by t.pull_id
    ),
    dropped as (
      delete from pull_job_items t using grown g
      where t.pull_id = g.pull_id and t.kind = 'ids' and g.accounts ? t.account_id
    )
    update pull_jobs j set work = merge_pull_work(j.work, jsonb_build_object('full', g.accounts))
    from grown g where j.id = g.pull_id;
  end if;

  return query
  select (e.key)::uuid, (e.value ->> 'id')::uuid from jsonb_each(v_pulls) e;
end
$$;

-- Records a batch of webhook deliveries in one statement: each event once per connection and
-- vendor event id, and for the connections whose new events ask for a pull, one queued pull each
-- with the merged work (queue_pulls). `p_batch` holds per delivery: idx, id (the event row's id),
-- tenant_id, connection_id, vendor, event_key, event_type, subject (the item or link the event is
-- about), work and items (what it asks when the subject is the connection's account reference,
-- else null), received_at; `p_payloads` the bodies in the same order. Answers per idx: `accepted`,
-- `ignored`, `duplicate` or `gone` (its connection is not live), with the pull id.
create function record_webhooks(
  p_batch jsonb, p_payloads jsonb, p_delay interval, p_ids_limit integer
) returns table (idx integer, status text, pull_id uuid)
language plpgsql
set enable_seqscan = off
as $$
#variable_conflict use_column
declare
  v_rows jsonb;
  v_pulls jsonb;
begin
  -- The batch's connections, each under the shared advisory lock that a connection delete takes
  -- alone first (CONNECTION_ROWS_LOCK in src/transactions/transactions.repository.ts): a delete
  -- waits until this batch is in, and a batch that waited sees the connection deleted. Advisory
  -- locks write nothing to the rows, unlike FOR SHARE.
  perform pg_advisory_xact_lock_shared(1405014, hashtext(c.id::text))
  from (select distinct (e ->> 'connection_id')::uuid as id
        from jsonb_array_elements(p_batch) e order by 1) c;

  with input as (
    select x.*,
      row_number() over (partition by x.connection_id, x.event_key order by x.idx) = 1 as first
    from jsonb_to_recordset(p_batch) as x(
      idx integer, id uuid, tenant_id uuid, connection_id uuid, event_key text, subject text,
      work jsonb, items jsonb, received_at timestamptz)
  )
  select jsonb_agg(jsonb_build_object(
    'idx', i.idx, 'id', i.id, 'tenant_id', i.tenant_id, 'connection_id', i.connection_id,
    'live', c.id is not null,
    'asks', i.work is not null and i.subject = c.account_ref,
    'first', i.first,
    'known', e.id is not null,
    'known_pull', e.pull_id,
    'work', i.work, 'items', i.items, 'received_at', i.received_at) order by i.idx)
  into v_rows
  from input i
  -- Lateral look-ups, an index probe per delivery whatever the tables' size.
  left join lateral (
    select c.id, c.account_ref from connections c
    where c.id = i.connection_id and c.tenant_id = i.tenant_id and c.kind = 'aggregator'
      and c.deleted_at is null limit 1) c on true
  left join lateral (
    select e.id, e.pull_id from webhook_events e
    where e.connection_id = i.connection_id and e.event_key = i.event_key limit 1) e on true;

  -- One pull per connection with the merged work of its new events.
  select coalesce(jsonb_object_agg(q.connection_id, q.pull_id), '{}') into v_pulls
  from queue_pulls((
    select coalesce(jsonb_agg(jsonb_build_object(
      'tenant_id', a.tenant_id, 'connection_id', a.connection_id, 'trigger', 'webhook',
      'work', a.work, 'items', a.items, 'created', a.first_at,
      'due', a.first_at + p_delay)), '[]')
    from (
      select x.tenant_id, x.connection_id, merge_pull_work_agg(x.work order by x.idx) as work,
             jsonb_path_query_array(coalesce(jsonb_agg(x.items), '[]'), '$[*][*]') as items,
             min(x.received_at) as first_at
      from jsonb_to_recordset(v_rows) as x(idx integer, tenant_id uuid, connection_id uuid,
        live boolean, asks boolean, first boolean, known boolean, work jsonb, items jsonb,
        received_at timestamptz)
      where x.live and x.asks and x.first and not x.known
      group by x.tenant_id, x.connection_id) a), p_ids_limit) q;

  return query
  with rows as (
    select * from jsonb_to_recordset(v_rows) as x(idx integer, id uuid, connection_id uuid,
      live boolean, asks boolean, first boolean, known boolean, known_pull uuid)
  ),
  input as (
    select x.idx, x.tenant_id, x.connection_id, x.vendor, x.event_key, x.event_type,
           x.received_at, p_payloads -> (x.idx) as payload
    from jsonb_to_recordset(p_batch) as x(idx integer, tenant_id uuid, connection_id uuid,
      vendor text, event_key text, event_type text, received_at timestamptz)
  ),
  inserted as (
    insert into webhook_events as w (id, tenant_id, connection_id, vendor, event_key, event_type,
                                     outcome, pull_id, payload, received_at)
    select r.id, i.tenant_id, i.connection_id, i.vendor, i.event_key, i.event_type,
           case when r.asks then 'accepted' else 'ignored' end,
           case when r.asks then (v_pulls ->> r.connection_id::text)::uuid end,
           i.payload, i.received_at
    from rows r join input i on i.idx = r.idx
    where r.live and r.first and not r.known
    order by i.connection_id, i.event_key
    on conflict (connection_id, event_key) do nothing
    returning w.id
  ),
  -- An event another replica recorded between the look-up and the insert is a duplicate too.
  raced as (
    select r.idx, e.pull_id from rows r
    join input i on i.idx = r.idx
    left join lateral (
      select e.pull_id from webhook_events e
      where e.connection_id = i.connection_id and e.event_key = i.event_key limit 1) e on true
    where r.live and r.first and not r.known and r.id not in (select id from inserted)
  ),
  firsts as (
    select r.connection_id, i.event_key, r.idx, r.asks, r.known, r.known_pull
    from rows r join input i on i.idx = r.idx
    where r.first
  )
  select r.idx,
    case
      when not r.live then 'gone'
      when r.known or not r.first or rc.idx is not null then 'duplicate'
      when r.asks then 'accepted'
      else 'ignored'
    end,
    case
      when not r.live then null
      when r.known then r.known_pull
      when rc.idx is not null then
        coalesce(rc.pull_id, case when r.asks then (v_pulls ->> r.connection_id::text)::uuid end)
      when not r.first then
        case when f.known then f.known_pull
             when f.asks then (v_pulls ->> r.connection_id::text)::uuid end
      when r.asks then (v_pulls ->> r.connection_id::text)::uuid
    end
  from rows r
  join input i on i.idx = r.idx
  left join raced rc on rc.idx = r.idx
  left join firsts f on f.connection_id = r.connection_id and f.event_key = i.event_key
  order by r.idx;
end
$$;
