-- A connection's webhook pulls start at least `p_min_interval` apart. A pull a webhook queues
-- comes due `p_delay` after the first of its events, as before, but never sooner than
-- `p_min_interval` after the connection's last pull started: a stream of webhooks for one
-- connection (a vendor re-sending, a flood of syncs) becomes one vendor walk an interval instead of
-- one every `p_delay`, for the vendor's quota and for the webhooks sharing these cores. A manual
-- request still makes the queued pull due at once. The last start is one index probe per connection
-- of the batch (pull_jobs_by_connection, newest first, past the one queued pull); with an interval
-- of 0 it is not looked up. The 4-argument version goes: a replica still calling it gets the
-- 5-argument one with no interval.
drop function record_webhooks(jsonb, jsonb, interval, integer);

create function record_webhooks(
  p_batch jsonb, p_payloads jsonb, p_delay interval, p_ids_limit integer,
  p_min_interval interval default interval '0'
) returns table (idx integer, status text, pull_id uuid)
language plpgsql
set enable_seqscan = off
as $$
#variable_conflict use_column
begin
  -- The batch's connections, each under the shared advisory lock that a connection delete takes
  -- alone first (CONNECTION_ROWS_LOCK in src/transactions/transactions.repository.ts): a delete
  -- waits until this batch is in, and a batch that waited sees the connection deleted.
  perform pg_advisory_xact_lock_shared(1405014, hashtext(c.id::text))
  from (select distinct (e ->> 'connection_id')::uuid as id
        from jsonb_array_elements(p_batch) e order by 1) c;

  return query
  with input as materialized (
    select x.*,
      row_number() over (partition by x.connection_id, x.event_key order by x.idx) = 1 as first
    from jsonb_to_recordset(p_batch) as x(
      idx integer, id uuid, tenant_id uuid, connection_id uuid, vendor text, event_key text,
      event_type text, subject text, work jsonb, items jsonb, received_at timestamptz)
  ),
  -- Index probes per delivery, whatever the tables' size: its live connection, its stored event.
  looked as materialized (
    select i.*, c.id is not null as live, i.work is not null and i.subject = c.account_ref as asks,
           e.id is not null as known, e.pull_id as known_pull
    from input i
    left join lateral (
      select c.id, c.account_ref from connections c
      where c.id = i.connection_id and c.tenant_id = i.tenant_id and c.kind = 'aggregator'
        and c.deleted_at is null limit 1) c on true
    left join lateral (
      select e.id, e.pull_id from webhook_events e
      where e.connection_id = i.connection_id and e.event_key = i.event_key limit 1) e on true
  ),
  -- Per connection, the merged work of its new events that ask for a pull, and its queued pull.
  wanted as materialized (
    select w.*, q.id as queued, q.work as queued_work, q.next_attempt_at,
           -- greatest() skips a null: no pull started yet, or no interval
           greatest(w.first_at + p_delay, s.started_at + p_min_interval) as due
    from (
      select l.tenant_id, l.connection_id, merge_pull_work_agg(l.work order by l.idx) as work,
             jsonb_path_query_array(coalesce(jsonb_agg(l.items), '[]'), '$[*][*]') as items,
             min(l.received_at) as first_at
      from looked l where l.live and l.asks and l.first and not l.known
      group by l.tenant_id, l.connection_id) w
    left join lateral (
      select q.id, q.work, q.next_attempt_at from pull_jobs q
      where q.connection_id = w.connection_id and q.status = 'queued' limit 1) q on true
    left join lateral (
      select s.started_at from pull_jobs s
      where p_min_interval > interval '0' -- in the subquery, a test made once: no probe at 0
        and s.tenant_id = w.tenant_id and s.connection_id = w.connection_id
        and s.started_at is not null
      order by s.created_at desc, s.id desc limit 1) s on true
  ),
  -- queue_pulls only for what changes a pull (HAVING: not called at all when nothing does); a
  -- connection whose queued pull already covers its events keeps that pull as it is.
  queued as (
    select q.connection_id, q.pull_id
    from (
      select jsonb_agg(jsonb_build_object(
        'tenant_id', w.tenant_id, 'connection_id', w.connection_id, 'trigger', 'webhook',
        'work', w.work, 'items', w.items, 'created', w.first_at, 'due', w.due)) as r
      from wanted w
      where w.queued is null or jsonb_array_length(w.items) > 0
         or merge_pull_work(w.queued_work, w.work) is distinct from w.queued_work
         or w.due < w.next_attempt_at
      having count(*) > 0) requests
    cross join lateral queue_pulls(requests.r, p_ids_limit) q
  ),
  pulls as materialized (
    select w.connection_id, coalesce(q.pull_id, w.queued) as pull_id
    from wanted w left join queued q on q.connection_id = w.connection_id
  ),
  inserted as (
    insert into webhook_events as w (id, tenant_id, connection_id, vendor, event_key, event_type,
                                     outcome, pull_id, payload, received_at)
    select l.id, l.tenant_id, l.connection_id, l.vendor, l.event_key, l.event_type,
           case when l.asks then 'accepted' else 'ignored' end,
           case when l.asks then p.pull_id end,
           p_payloads -> l.idx, l.received_at
    from looked l left join pulls p on p.connection_id = l.connection_id
    where l.live and l.first and not l.known
    order by l.connection_id, l.event_key
    on conflict (connection_id, event_key) do nothing
    returning w.id
  )
  select l.idx,
    case
      when not l.live then 'gone'
      when l.known or not l.first then 'duplicate'
      -- another replica stored it after this statement's snapshot: the insert skipped it
      when l.id not in (select id from inserted) then 'duplicate'
      when l.asks then 'accepted'
      else 'ignored'
    end,
    case
      when not l.live then null
      when l.known then l.known_pull
      when not l.first then
        case when f.known then f.known_pull when f.asks then p.pull_id end
      when l.asks then p.pull_id
    end
  from looked l
  left join pulls p on p.connection_id = l.connection_id
  left join looked f on f.connection_id = l.connection_id and f.event_key = l.event_key and f.first
  order by l.idx;
end
$$;
