-- Events and schedules. The task registry also holds what is needed to start a
-- run without the code (a workflow's DAG, a task's run options) and the
-- workflow's event triggers, so any process can start event-triggered runs.
ALTER TABLE task_registry ADD COLUMN triggers TEXT;
ALTER TABLE task_registry ADD COLUMN template TEXT;

CREATE TABLE events (
  id         TEXT NOT NULL PRIMARY KEY,
  namespace  TEXT NOT NULL,
  key        TEXT NOT NULL,
  payload    TEXT,
  metadata   TEXT NOT NULL,
  time       INTEGER NOT NULL
) STRICT;
CREATE INDEX events_by_key ON events (namespace, key, id);
CREATE INDEX events_by_ns ON events (namespace, id);

-- A cron (kind 'cron') or a one-off schedule (kind 'once'); next_fire_at NULL once done.
CREATE TABLE schedules (
  id            TEXT NOT NULL PRIMARY KEY,
  namespace     TEXT NOT NULL,
  kind          TEXT NOT NULL,
  target_name   TEXT NOT NULL,
  target        TEXT NOT NULL,
  input         TEXT,
  metadata      TEXT NOT NULL,
  cron          TEXT,
  timezone      TEXT,
  overlap       TEXT NOT NULL,
  misfire       TEXT NOT NULL,
  from_code     INTEGER NOT NULL,
  next_fire_at  INTEGER,
  last_run_id   TEXT,
  last_fired_at INTEGER,
  created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX schedules_due ON schedules (namespace, next_fire_at);

-- One row per (schedule, scheduled time) ever fired: the at-most-once guard.
CREATE TABLE schedule_fires (
  schedule_id   TEXT NOT NULL,
  scheduled_at  INTEGER NOT NULL,
  run_id        TEXT,
  fired_at      INTEGER NOT NULL,
  PRIMARY KEY (schedule_id, scheduled_at)
) STRICT, WITHOUT ROWID;
