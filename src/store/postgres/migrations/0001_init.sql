-- Baton's PostgreSQL schema, version 1. Times are epoch milliseconds (bigint),
-- like SQLite's, so rows map the same way; JSON is stored as json (text kept
-- as written, key order included). Runs inside Baton's own schema (search_path
-- is set to it by the migrator), so no name here is schema-qualified.
-- Run ids compare bytewise (COLLATE "C"), like SQLite, for claim order and paging.
-- Append-only: never edit once released.

CREATE TABLE runs (
  id                     text COLLATE "C" PRIMARY KEY,
  namespace              text NOT NULL,
  workflow_run_id        text NOT NULL,
  workflow_name          text NOT NULL,
  task_name              text NOT NULL,
  parent_run_id          text,
  parent_workflow_run_id text,
  status                 text NOT NULL,
  attempt                integer NOT NULL DEFAULT 0,
  crash_count            integer NOT NULL DEFAULT 0,
  max_crashes            integer NOT NULL,
  priority               integer NOT NULL,
  input                  text,
  output                 text,
  error                  json,
  tags                   json NOT NULL,
  metadata               json NOT NULL,
  custom_context         json NOT NULL,
  trigger                json NOT NULL,
  idempotency_key        text,
  available_at           bigint NOT NULL,
  schedule_deadline_at   bigint,
  created_at             bigint NOT NULL,
  started_at             bigint,
  finished_at            bigint,
  updated_at             bigint NOT NULL,
  lease_epoch            bigint NOT NULL DEFAULT 0,
  lease_owner            text,
  lease_expires_at       bigint,
  deadline_at            bigint,
  cancel_requested_at    bigint,
  cancel_reason          text,
  cancel_grace_ms        bigint NOT NULL,
  waiting_on             json,
  checkpoint             text,
  progress               double precision,
  progress_message       text
);

-- The claim scan: queued runs in claim order. Partial, so it stays small.
CREATE INDEX runs_queue ON runs (namespace, priority DESC, available_at, id)
  WHERE status IN ('Scheduled', 'Pending', 'AwaitingRetry');
-- The sweep: leased runs by lease expiry.
CREATE INDEX runs_leased ON runs (lease_expires_at)
  WHERE status IN ('Running', 'Retrying', 'Cancelling');
-- Next due-time of queued runs.
CREATE INDEX runs_due ON runs (namespace, available_at)
  WHERE status IN ('Scheduled', 'Pending', 'AwaitingRetry');
CREATE INDEX runs_schedule_deadline ON runs (schedule_deadline_at)
  WHERE schedule_deadline_at IS NOT NULL;
CREATE INDEX runs_cancelling ON runs (lease_owner) WHERE status = 'Cancelling';
CREATE INDEX runs_list ON runs (namespace, created_at DESC, id DESC);
CREATE INDEX runs_list_task ON runs (namespace, task_name, created_at DESC, id DESC);
CREATE INDEX runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
CREATE INDEX runs_workflow_run ON runs (workflow_run_id);

CREATE TABLE run_states (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id      text NOT NULL,
  attempt     integer NOT NULL,
  type        text NOT NULL,
  name        text NOT NULL,
  at          bigint NOT NULL,
  message     text,
  error       json,
  waiting_on  json
);
CREATE INDEX run_states_run ON run_states (run_id, id);

CREATE TABLE attempts (
  run_id      text NOT NULL,
  epoch       bigint NOT NULL,
  attempt     integer NOT NULL,
  worker_id   text NOT NULL,
  started_at  bigint NOT NULL,
  ended_at    bigint,
  outcome     text,
  PRIMARY KEY (run_id, epoch)
);

CREATE TABLE logs (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id   text NOT NULL,
  attempt  integer NOT NULL,
  at       bigint NOT NULL,
  level    text NOT NULL,
  message  text NOT NULL,
  fields   json
);
CREATE INDEX logs_run ON logs (run_id, id);

CREATE TABLE stream_chunks (
  run_id  text NOT NULL,
  seq     integer NOT NULL,
  data    text NOT NULL,
  at      bigint NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE idempotency_keys (
  namespace   text NOT NULL,
  task_name   text NOT NULL,
  key         text NOT NULL,
  run_id      text NOT NULL,
  input_hash  text NOT NULL,
  expires_at  bigint NOT NULL,
  PRIMARY KEY (namespace, task_name, key)
);

CREATE TABLE workers (
  id            text PRIMARY KEY,
  namespace     text NOT NULL,
  name          text NOT NULL,
  labels        json NOT NULL,
  slots         integer NOT NULL,
  task_names    json NOT NULL,
  host          text NOT NULL,
  pid           integer NOT NULL,
  started_at    bigint NOT NULL,
  heartbeat_at  bigint NOT NULL,
  lease_ms      bigint NOT NULL,
  stopped_at    bigint
);
CREATE INDEX workers_namespace ON workers (namespace, heartbeat_at);

CREATE TABLE task_registry (
  namespace     text NOT NULL,
  name          text NOT NULL,
  kind          text NOT NULL,
  version       text NOT NULL,
  input_schema  json,
  updated_at    bigint NOT NULL,
  PRIMARY KEY (namespace, name)
);
