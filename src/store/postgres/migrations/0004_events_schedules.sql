-- Events and schedules. The task registry also holds what is needed to start a
-- run without the code (a workflow's DAG, a task's run options) and the
-- workflow's event triggers, so any process can start event-triggered runs.
ALTER TABLE task_registry ADD COLUMN triggers json;
ALTER TABLE task_registry ADD COLUMN template json;

CREATE TABLE events (
  id         text NOT NULL PRIMARY KEY,
  namespace  text NOT NULL,
  key        text NOT NULL,
  payload    text,
  metadata   json NOT NULL,
  time       bigint NOT NULL
);
CREATE INDEX events_by_key ON events (namespace, key, id);
CREATE INDEX events_by_ns ON events (namespace, id);

-- A cron (kind 'cron') or a one-off schedule (kind 'once'); next_fire_at NULL once done.
CREATE TABLE schedules (
  id            text NOT NULL PRIMARY KEY,
  namespace     text NOT NULL,
  kind          text NOT NULL,
  target_name   text NOT NULL,
  target        json NOT NULL,
  input         text,
  metadata      json NOT NULL,
  cron          text,
  timezone      text,
  overlap       text NOT NULL,
  misfire       text NOT NULL,
  from_code     boolean NOT NULL,
  next_fire_at  bigint,
  last_run_id   text,
  last_fired_at bigint,
  created_at    bigint NOT NULL
);
CREATE INDEX schedules_due ON schedules (namespace, next_fire_at);

-- One row per (schedule, scheduled time) ever fired: the at-most-once guard.
CREATE TABLE schedule_fires (
  schedule_id   text NOT NULL,
  scheduled_at  bigint NOT NULL,
  run_id        text,
  fired_at      bigint NOT NULL,
  PRIMARY KEY (schedule_id, scheduled_at)
);
