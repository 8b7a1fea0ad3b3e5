-- A page store does less per row; each change below was measured on a 500-row page store.
--
-- 1. A transaction's raw object is kept as the vendor sent it, as `json` text, no longer converted
--    to `jsonb`: nothing reads it back but people, and converting each page to jsonb (a tree per
--    object, its keys sorted) was a third of Postgres' time on a page store. A page store now
--    hands Postgres the page and where each row is in it (src/db/json_slices.ts), and Postgres
--    only checks each row's text. Stored rows keep their values (the jsonb text of each); this
--    rewrites the table once.
alter table transactions alter column raw type json using raw::json;

-- 2. The foreign key from transactions to connections ran a lookup and a row lock per inserted
--    row (a tenth of a page store). Its guarantee is kept another way: the page store inserts
--    only when its connection's row exists (one lookup per statement), and no connection row is
--    ever deleted (connections are soft-deleted; the trigger below refuses a DELETE), so no
--    transaction can name a connection that does not exist.
alter table transactions drop constraint transactions_connection_id_fkey;

create function refuse_connection_delete() returns trigger language plpgsql as $$
begin
  raise exception 'connections are never deleted: set deleted_at instead'
    using errcode = 'restrict_violation';
end $$;

create trigger connections_never_deleted before delete on connections
  for each row execute function refuse_connection_delete();
