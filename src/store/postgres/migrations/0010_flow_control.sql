-- Flow control (DESIGN.md §2.6). A run with rules (`flow`) is claimed through
-- admission, fair-shared by `gate`; plain runs keep the fast claim index.
ALTER TABLE runs ADD COLUMN flow jsonb;
ALTER TABLE runs ADD COLUMN gate text;
ALTER TABLE runs ADD COLUMN debounce_key text;
-- On a sticky workflow run's row: the worker that ran its first task.
ALTER TABLE runs ADD COLUMN sticky_worker text;

DROP INDEX runs_queue;
CREATE INDEX runs_queue ON runs (namespace, priority DESC, available_at, id)
  WHERE status IN ('Scheduled', 'Pending', 'AwaitingRetry') AND gate IS NULL;
CREATE INDEX runs_gated ON runs (namespace, gate, priority DESC, available_at, id)
  WHERE status IN ('Scheduled', 'Pending', 'AwaitingRetry') AND gate IS NOT NULL;
CREATE INDEX runs_debounce ON runs (namespace, task_name, debounce_key)
  WHERE debounce_key IS NOT NULL AND status IN ('Scheduled', 'Pending');

-- One row per (holder run, concurrency rule) while the holder is not terminal;
-- `held` is true while it occupies its key (its run is executing, or for a
-- workflow run, once its first task was admitted).
CREATE TABLE flow_holds (
  holder_id   text NOT NULL,
  scope       text NOT NULL,
  namespace   text NOT NULL,
  key         text NOT NULL,
  max         integer NOT NULL,
  strategy    text NOT NULL,
  held        boolean NOT NULL DEFAULT false,
  created_at  bigint NOT NULL,
  PRIMARY KEY (holder_id, scope)
);
CREATE INDEX flow_holds_key ON flow_holds (namespace, scope, key, held);

-- Start times per rate-limit key, kept until their window has passed.
CREATE TABLE rate_limit_hits (
  namespace   text NOT NULL,
  key         text NOT NULL,
  at          bigint NOT NULL,
  expires_at  bigint NOT NULL
);
CREATE INDEX rate_limit_hits_key ON rate_limit_hits (namespace, key, at);

-- Whatever path changes a run's status (settle, sweep, cancel, wait), leaving
-- execution frees its keys and ending forgets them: the count stays exact.
CREATE FUNCTION baton_flow_release() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF NEW.status IN ('Completed', 'Cached', 'Skipped', 'Failed', 'TimedOut', 'Crashed', 'Cancelled') THEN
    DELETE FROM flow_holds WHERE holder_id = NEW.id;
  ELSE
    UPDATE flow_holds SET held = false WHERE holder_id = NEW.id AND held;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_flow_release AFTER UPDATE OF status ON runs FOR EACH ROW
  WHEN (NEW.flow IS NOT NULL AND NEW.status IS DISTINCT FROM OLD.status
    AND NEW.status NOT IN ('Running', 'Retrying', 'Cancelling'))
  EXECUTE FUNCTION baton_flow_release();
