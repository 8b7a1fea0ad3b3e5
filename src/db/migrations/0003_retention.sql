-- Indexes for the retention sweep: old webhook events and old finished pulls, oldest first.
create index webhook_events_by_received on webhook_events (received_at);
create index pull_jobs_finished on pull_jobs (finished_at)
  where status in ('succeeded', 'failed', 'dead');
