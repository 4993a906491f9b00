-- Baton's SQLite schema, version 1. Times are epoch milliseconds (INTEGER);
-- JSON is stored as TEXT. Append-only: never edit once released.

CREATE TABLE runs (
  id                     TEXT PRIMARY KEY,
  namespace              TEXT NOT NULL,
  workflow_run_id        TEXT NOT NULL,
  workflow_name          TEXT NOT NULL,
  task_name              TEXT NOT NULL,
  parent_run_id          TEXT,
  parent_workflow_run_id TEXT,
  status                 TEXT NOT NULL,
  attempt                INTEGER NOT NULL DEFAULT 0,
  crash_count            INTEGER NOT NULL DEFAULT 0,
  max_crashes            INTEGER NOT NULL,
  priority               INTEGER NOT NULL,
  input                  TEXT,
  output                 TEXT,
  error                  TEXT,
  tags                   TEXT NOT NULL,
  metadata               TEXT NOT NULL,
  custom_context         TEXT NOT NULL,
  trigger                TEXT NOT NULL,
  idempotency_key        TEXT,
  available_at           INTEGER NOT NULL,
  schedule_deadline_at   INTEGER,
  created_at             INTEGER NOT NULL,
  started_at             INTEGER,
  finished_at            INTEGER,
  updated_at             INTEGER NOT NULL,
  lease_epoch            INTEGER NOT NULL DEFAULT 0,
  lease_owner            TEXT,
  lease_expires_at       INTEGER,
  deadline_at            INTEGER,
  cancel_requested_at    INTEGER,
  cancel_reason          TEXT,
  cancel_grace_ms        INTEGER NOT NULL,
  waiting_on             TEXT,
  checkpoint             TEXT,
  progress               REAL,
  progress_message       TEXT
) STRICT;

-- The claim scan: queued runs in claim order. Partial, so it stays small.
CREATE INDEX runs_queue ON runs (namespace, priority DESC, available_at, id)
  WHERE status IN ('Scheduled', 'Pending', 'AwaitingRetry');
-- The sweep: leased runs by lease expiry.
CREATE INDEX runs_leased ON runs (lease_expires_at)
  WHERE status IN ('Running', 'Retrying', 'Cancelling');
-- Next due-time and schedule deadlines of queued runs.
CREATE INDEX runs_due ON runs (namespace, available_at)
  WHERE status IN ('Scheduled', 'Pending', 'AwaitingRetry');
CREATE INDEX runs_schedule_deadline ON runs (schedule_deadline_at)
  WHERE schedule_deadline_at IS NOT NULL;
CREATE INDEX runs_list ON runs (namespace, created_at DESC, id DESC);
CREATE INDEX runs_list_task ON runs (namespace, task_name, created_at DESC, id DESC);
CREATE INDEX runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
CREATE INDEX runs_workflow_run ON runs (workflow_run_id);

CREATE TABLE run_states (
  id          INTEGER PRIMARY KEY,
  run_id      TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  type        TEXT NOT NULL,
  name        TEXT NOT NULL,
  at          INTEGER NOT NULL,
  message     TEXT,
  error       TEXT,
  waiting_on  TEXT
) STRICT;
CREATE INDEX run_states_run ON run_states (run_id, id);

CREATE TABLE attempts (
  run_id      TEXT NOT NULL,
  epoch       INTEGER NOT NULL,
  attempt     INTEGER NOT NULL,
  worker_id   TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  ended_at    INTEGER,
  outcome     TEXT,
  PRIMARY KEY (run_id, epoch)
) STRICT, WITHOUT ROWID;

CREATE TABLE logs (
  id       INTEGER PRIMARY KEY,
  run_id   TEXT NOT NULL,
  attempt  INTEGER NOT NULL,
  at       INTEGER NOT NULL,
  level    TEXT NOT NULL,
  message  TEXT NOT NULL,
  fields   TEXT
) STRICT;
CREATE INDEX logs_run ON logs (run_id, id);

CREATE TABLE stream_chunks (
  run_id  TEXT NOT NULL,
  seq     INTEGER NOT NULL,
  data    TEXT NOT NULL,
  at      INTEGER NOT NULL,
  PRIMARY KEY (run_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE idempotency_keys (
  namespace   TEXT NOT NULL,
  task_name   TEXT NOT NULL,
  key         TEXT NOT NULL,
  run_id      TEXT NOT NULL,
  input_hash  TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (namespace, task_name, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE workers (
  id            TEXT PRIMARY KEY,
  namespace     TEXT NOT NULL,
  name          TEXT NOT NULL,
  labels        TEXT NOT NULL,
  slots         INTEGER NOT NULL,
  task_names    TEXT NOT NULL,
  host          TEXT NOT NULL,
  pid           INTEGER NOT NULL,
  started_at    INTEGER NOT NULL,
  heartbeat_at  INTEGER NOT NULL,
  lease_ms      INTEGER NOT NULL,
  stopped_at    INTEGER
) STRICT;
CREATE INDEX workers_namespace ON workers (namespace, heartbeat_at);

CREATE TABLE task_registry (
  namespace     TEXT NOT NULL,
  name          TEXT NOT NULL,
  kind          TEXT NOT NULL,
  version       TEXT NOT NULL,
  input_schema  TEXT,
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (namespace, name)
) STRICT, WITHOUT ROWID;
