-- baton.transaction(): a group of runs rolled back (onRollback hooks, newest
-- completion first) or committed (onCommit hooks) together. The hooks run as a
-- workflow run (`hooks_run_id`), so a crash mid-rollback resumes on any worker.
CREATE TABLE transactions (
  id            TEXT NOT NULL PRIMARY KEY,
  namespace     TEXT NOT NULL,
  parent_id     TEXT,
  status        TEXT NOT NULL,
  hooks_run_id  TEXT,
  error         TEXT,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
) STRICT;
ALTER TABLE runs ADD COLUMN transaction_id TEXT;
CREATE INDEX runs_transaction ON runs (transaction_id) WHERE transaction_id IS NOT NULL;
