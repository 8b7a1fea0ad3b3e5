-- Idempotency keys: the first request with a key claims it (running), then keeps its answer (done).
-- The primary key is what makes two replicas receiving the same key at once run the request once.
create table idempotency_keys (
  tenant_id       uuid not null,
  key             text not null,
  -- HMAC-SHA-256 of method, route, path parameters and body, under a key derived from the seal
  -- key named by fingerprint_key: a repeat must match it, and no body (nor a credential in one)
  -- can be guessed back from it.
  fingerprint     bytea not null,
  fingerprint_key text not null,
  state           text not null check (state in ('running', 'done')),
  -- The attempt that holds a running key: only it may complete or release it.
  owner           uuid not null,
  -- The kept answer, once done: its status, media type and body sealed with the key ring.
  status          smallint,
  content_type    text,
  body            bytea,
  created_at      timestamptz not null,
  -- When the running attempt started; an attempt older than the takeover bound is presumed lost.
  locked_at       timestamptz not null,
  expires_at      timestamptz not null,
  primary key (tenant_id, key),
  constraint done_has_answer check (state = 'running' or (status is not null and body is not null))
);

-- The sweep deletes expired keys, oldest first.
create index idempotency_keys_by_expiry on idempotency_keys (expires_at);
