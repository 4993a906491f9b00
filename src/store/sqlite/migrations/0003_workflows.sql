-- DAG workflows. A workflow run is a row of kind 'workflow' holding the DAG it
-- was started with; its tasks are rows of kind 'task' with the same
-- workflow_run_id, waiting (status 'Waiting') until their parents end.
-- Workers claim by queue_key: the task name of a standalone task,
-- '<workflow>><task>' for a task of a workflow.
ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'task';
ALTER TABLE runs ADD COLUMN queue_key TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN dag TEXT;
UPDATE runs SET queue_key = task_name;
CREATE INDEX runs_workflow_tasks ON runs (workflow_run_id, kind);
