-- Durable event waits: which event keys a Waiting run listens to (an event push
-- wakes them), and which events each run has consumed (an event satisfies at
-- most one wait of a run).
CREATE TABLE event_waits (
  run_id     TEXT NOT NULL,
  namespace  TEXT NOT NULL,
  event_key  TEXT NOT NULL,
  PRIMARY KEY (run_id, event_key)
);
CREATE INDEX event_waits_by_key ON event_waits (namespace, event_key);
CREATE TABLE event_consumptions (
  run_id    TEXT NOT NULL,
  event_id  TEXT NOT NULL,
  PRIMARY KEY (run_id, event_id)
);
