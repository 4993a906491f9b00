-- runs_workflow_tasks (workflow_run_id, kind) serves every lookup by workflow_run_id;
-- runs_workflow_run only cost an index entry on every row version (docs/decisions/0011).
DROP INDEX IF EXISTS runs_workflow_run;
