-- baton.transaction(): a group of runs rolled back (onRollback hooks, newest
-- completion first) or committed (onCommit hooks) together. The hooks run as a
-- workflow run (`hooks_run_id`), so a crash mid-rollback resumes on any worker.
CREATE TABLE transactions (
  id            text NOT NULL PRIMARY KEY,
  namespace     text NOT NULL,
  parent_id     text,
  status        text NOT NULL,
  hooks_run_id  text,
  error         jsonb,
  created_at    bigint NOT NULL,
  updated_at    bigint NOT NULL
);
ALTER TABLE runs ADD COLUMN transaction_id text;
CREATE INDEX runs_transaction ON runs (transaction_id) WHERE transaction_id IS NOT NULL;
