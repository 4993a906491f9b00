-- Status changes without a temporary b-tree per UPDATE (docs/decisions/0011).
-- 1. The flow-hold release moves from a trigger to the code that records each
--    state change (state-writes.ts): with any trigger on `runs`, SQLite cannot
--    update a row in one pass.
-- 2. The partial indexes test the status with comparisons, not IN lists of
--    three values, which SQLite evaluates through a temporary b-tree built for
--    every UPDATE that maintains the index (src/store/sqlite/status-sql.ts has
--    the same texts, which queries must repeat to use these indexes).
DROP TRIGGER IF EXISTS runs_flow_release;

DROP INDEX runs_leased;
CREATE INDEX runs_leased ON runs (lease_expires_at)
  WHERE (status = 'Running' OR status = 'Retrying' OR status = 'Cancelling');
DROP INDEX runs_due;
CREATE INDEX runs_due ON runs (namespace, available_at)
  WHERE (status = 'Scheduled' OR status = 'Pending' OR status = 'AwaitingRetry');
DROP INDEX runs_queue;
CREATE INDEX runs_queue ON runs (namespace, priority DESC, available_at, id)
  WHERE (status = 'Scheduled' OR status = 'Pending' OR status = 'AwaitingRetry') AND gate IS NULL;
DROP INDEX runs_gated;
CREATE INDEX runs_gated ON runs (namespace, gate, priority DESC, available_at, id)
  WHERE (status = 'Scheduled' OR status = 'Pending' OR status = 'AwaitingRetry') AND gate IS NOT NULL;

-- 3. runs_workflow_tasks (workflow_run_id, kind) serves every lookup by
--    workflow_run_id; runs_workflow_run only cost an entry on every write.
DROP INDEX IF EXISTS runs_workflow_run;
