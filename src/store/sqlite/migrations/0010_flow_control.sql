-- Flow control (DESIGN.md §2.6). A run with rules (`flow`) is claimed through
-- admission, fair-shared by `gate`; plain runs keep the fast claim index.
ALTER TABLE runs ADD COLUMN flow TEXT;
ALTER TABLE runs ADD COLUMN gate TEXT;
ALTER TABLE runs ADD COLUMN debounce_key TEXT;
-- On a sticky workflow run's row: the worker that ran its first task.
ALTER TABLE runs ADD COLUMN sticky_worker TEXT;

DROP INDEX runs_queue;
CREATE INDEX runs_queue ON runs (namespace, priority DESC, available_at, id)
  WHERE status IN ('Scheduled', 'Pending', 'AwaitingRetry') AND gate IS NULL;
CREATE INDEX runs_gated ON runs (namespace, gate, priority DESC, available_at, id)
  WHERE status IN ('Scheduled', 'Pending', 'AwaitingRetry') AND gate IS NOT NULL;
CREATE INDEX runs_debounce ON runs (namespace, task_name, debounce_key)
  WHERE debounce_key IS NOT NULL AND status IN ('Scheduled', 'Pending');

-- One row per (holder run, concurrency rule) while the holder is not terminal;
-- `held` is 1 while it occupies its key (its run is executing, or for a workflow
-- run, once its first task was admitted).
CREATE TABLE flow_holds (
  holder_id   TEXT NOT NULL,
  scope       TEXT NOT NULL,
  namespace   TEXT NOT NULL,
  key         TEXT NOT NULL,
  max         INTEGER NOT NULL,
  strategy    TEXT NOT NULL,
  held        INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (holder_id, scope)
) STRICT, WITHOUT ROWID;
CREATE INDEX flow_holds_key ON flow_holds (namespace, scope, key, held);

-- Start times per rate-limit key, kept until their window has passed.
CREATE TABLE rate_limit_hits (
  namespace   TEXT NOT NULL,
  key         TEXT NOT NULL,
  at          INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_limit_hits_key ON rate_limit_hits (namespace, key, at);

-- Whatever path changes a run's status (settle, sweep, cancel, wait), leaving
-- execution frees its keys and ending forgets them: the count stays exact.
CREATE TRIGGER runs_flow_release AFTER UPDATE OF status ON runs
  WHEN NEW.flow IS NOT NULL AND NEW.status IS NOT OLD.status
    AND NEW.status NOT IN ('Running', 'Retrying', 'Cancelling')
BEGIN
  UPDATE flow_holds SET held = 0 WHERE holder_id = NEW.id AND held = 1;
  DELETE FROM flow_holds WHERE holder_id = NEW.id
    AND NEW.status IN ('Completed', 'Cached', 'Skipped', 'Failed', 'TimedOut', 'Crashed', 'Cancelled');
END;
