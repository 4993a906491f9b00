-- Task caching: one entry per (namespace, task, cache key). `computing` while
-- the owning run executes (identical runs wait for it), `done` with its output.
CREATE TABLE cache_entries (
  namespace   TEXT NOT NULL,
  task_name   TEXT NOT NULL,
  cache_key   TEXT NOT NULL,
  state       TEXT NOT NULL,
  run_id      TEXT NOT NULL,
  output      TEXT,
  expires_at  BIGINT,
  updated_at  BIGINT NOT NULL,
  PRIMARY KEY (namespace, task_name, cache_key)
);
