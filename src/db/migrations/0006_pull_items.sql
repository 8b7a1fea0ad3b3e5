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
-- the accounts walked whole.
create function merge_pull_work(a jsonb, b jsonb) returns jsonb
language sql immutable parallel safe as $$
  select jsonb_strip_nulls(jsonb_build_object(
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
            select jsonb_array_elements_text(coalesce(b -> 'full', '[]'))) u)))
$$;

create aggregate merge_pull_work_agg(jsonb) (
  sfunc = merge_pull_work,
  stype = jsonb,
  initcond = '{}'
);

-- Queues `p_work` and `p_items` ([{kind, account, id}]) for the connection, or merges them into its
-- queued pull (one per connection: the partial unique index), and answers the pull's id. The
-- conflict locks the queued row, so a worker cannot claim it meanwhile; a pull the merge adds
-- nothing to is left as it is. Past `p_ids_limit` ids of one account, its ids give way to a walk
-- of the whole account, which covers any change with a number of vendor calls the account's size
-- bounds rather than what was announced. Plans are made for each call's values: generic plans
-- cached while a table was empty would scan it once it has grown.
create function queue_pull(
  p_tenant uuid, p_connection uuid, p_trigger text, p_work jsonb, p_items jsonb,
  p_created timestamptz, p_due timestamptz, p_ids_limit integer
) returns uuid
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
declare
  v_id uuid;
  v_work jsonb;
  v_full jsonb;
begin
  insert into pull_jobs as p (id, tenant_id, connection_id, trigger, status, work,
                              next_attempt_at, created_at)
  values (gen_random_uuid(), p_tenant, p_connection, p_trigger, 'queued', p_work, p_due,
          date_trunc('milliseconds', p_created))
  on conflict (connection_id) where status = 'queued' do update
    set work = merge_pull_work(p.work, excluded.work),
        next_attempt_at = least(p.next_attempt_at, excluded.next_attempt_at)
    where merge_pull_work(p.work, excluded.work) is distinct from p.work
       or excluded.next_attempt_at < p.next_attempt_at
  returning p.id, p.work into v_id, v_work;
  if v_id is null then
    -- Nothing changed, yet the conflict locked the queued row all the same.
    select j.id, j.work into v_id, v_work
    from pull_jobs j where j.connection_id = p_connection and j.status = 'queued';
  end if;
  if coalesce(jsonb_array_length(p_items), 0) = 0 then
    return v_id;
  end if;

  insert into pull_job_items (pull_id, kind, account_id, external_id)
  select v_id, i.kind, i.account, i.id
  from jsonb_to_recordset(p_items) as i(kind text, account text, id text)
  where not (i.kind = 'ids' and coalesce(v_work -> 'full', '[]') ? i.account)
  order by 2, 3, 4
  on conflict do nothing;

  select jsonb_agg(o.account_id) into v_full from (
    select t.account_id from pull_job_items t
    where t.pull_id = v_id and t.kind = 'ids' and t.account_id in (
      select distinct n.account from jsonb_to_recordset(p_items) as n(kind text, account text)
      where n.kind = 'ids')
    group by t.account_id
    having count(*) > p_ids_limit) o;
  if v_full is not null then
    delete from pull_job_items t
    where t.pull_id = v_id and t.kind = 'ids'
      and t.account_id in (select jsonb_array_elements_text(v_full));
    update pull_jobs set work = merge_pull_work(work, jsonb_build_object('full', v_full))
    where id = v_id;
  end if;
  return v_id;
end
$$;

-- Records a batch of webhook deliveries in one statement: each event once per connection and
-- vendor event id, and for the connections whose new events ask for a pull, one queued pull each
-- with the merged work (queue_pull). `p_batch` holds per delivery: idx, id (the event row's id),
-- tenant_id, connection_id, vendor, event_key, event_type, subject (the item or link the event is
-- about), work and items (what it asks when the subject is the connection's account reference,
-- else null), received_at; `p_payloads` the bodies in the same order. Answers per idx: `accepted`,
-- `ignored`, `duplicate` or `gone` (its connection is not live), with the pull id.
create function record_webhooks(
  p_batch jsonb, p_payloads jsonb, p_delay interval, p_ids_limit integer
) returns table (idx integer, status text, pull_id uuid)
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
#variable_conflict use_column
declare
  v_rows jsonb;
  v_pulls jsonb := '{}';
  v_conn record;
begin
  -- The live connections, share-locked in id order: a delete of one waits until this batch is
  -- in, and two batches never take them in opposite orders.
  perform 1 from connections c
  where c.id in (select (e ->> 'connection_id')::uuid from jsonb_array_elements(p_batch) e)
    and c.kind = 'aggregator' and c.deleted_at is null
  order by c.id
  for share;

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
  left join connections c
    on c.id = i.connection_id and c.tenant_id = i.tenant_id and c.kind = 'aggregator'
   and c.deleted_at is null
  left join webhook_events e on e.connection_id = i.connection_id and e.event_key = i.event_key;

  -- One pull per connection with the merged work of its new events, in connection order.
  for v_conn in
    select x.tenant_id, x.connection_id, merge_pull_work_agg(x.work order by x.idx) as work,
           jsonb_path_query_array(coalesce(jsonb_agg(x.items), '[]'), '$[*][*]') as items,
           min(x.received_at) as first_at
    from jsonb_to_recordset(v_rows) as x(idx integer, tenant_id uuid, connection_id uuid,
      live boolean, asks boolean, first boolean, known boolean, work jsonb, items jsonb,
      received_at timestamptz)
    where x.live and x.asks and x.first and not x.known
    group by x.tenant_id, x.connection_id
    order by x.connection_id
  loop
    v_pulls := v_pulls || jsonb_build_object(v_conn.connection_id::text, queue_pull(
      v_conn.tenant_id, v_conn.connection_id, 'webhook', v_conn.work, v_conn.items,
      v_conn.first_at, v_conn.first_at + p_delay, p_ids_limit));
  end loop;

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
    left join webhook_events e on e.connection_id = i.connection_id and e.event_key = i.event_key
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
