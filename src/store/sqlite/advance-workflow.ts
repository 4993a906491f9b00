/**
 * Moves a workflow run forward after one of its tasks ended, inside the same
 * transaction: waiting tasks whose parents are done become Pending, tasks
 * downstream of a failure are cancelled, the on-failure task is started, or the
 * workflow run itself ends (its output is the map of its tasks' outputs). The
 * decisions are engine/dag.ts's; this file only applies them.
 */
import { composeOutputs, dagProgress, FAILED_TASK_STATES, workflowFailure } from '../../engine/dag.js';
import { cancelledError } from '../../engine/run-rules.js';
import type { StateName } from '../../engine/types.js';
import type { StoredDag } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { insertState } from './state-writes.js';

interface TaskRow {
  id: string;
  task_name: string;
  status: StateName;
  attempt: number;
  output: string | null;
  error: string | null;
}

/** Returns whether any task became runnable (so workers should be woken). */
export function advanceWorkflow(c: SqliteConnection, workflowRunId: string): boolean {
  const workflow = c
    .stmt(`SELECT workflow_name, status, dag, attempt FROM runs WHERE id = ? AND kind = 'workflow'`)
    .get(workflowRunId) as { workflow_name: string; status: StateName; dag: string | null; attempt: number } | undefined;
  if (!workflow?.dag || workflow.status !== 'Running') return false;
  const dag = JSON.parse(workflow.dag) as StoredDag;
  const tasks = c
    .stmt(`SELECT id, task_name, status, attempt, output, error FROM runs
      WHERE workflow_run_id = ? AND kind = 'task' AND id != workflow_run_id`)
    .all(workflowRunId) as TaskRow[];
  const byName = new Map(tasks.map((t) => [t.task_name, t]));
  const progress = dagProgress(dag, new Map(tasks.map((t) => [t.task_name, t.status])));
  const now = c.now();
  const makeRunnable = (name: string, message: string) => {
    const task = byName.get(name);
    if (task?.status !== 'Waiting' || !task) return;
    c.stmt(`UPDATE runs SET status = 'Pending', available_at = ?, waiting_on = NULL, updated_at = ? WHERE id = ?`).run(
      now,
      now,
      task.id,
    );
    insertState(c, task.id, task.attempt, 'Pending', now, { message });
  };
  for (const name of progress.ready) makeRunnable(name, 'its parents have ended');
  for (const { name, failedParent } of progress.unreachable) {
    const task = byName.get(name);
    if (!task) continue;
    const reason = `upstream task "${failedParent}" failed`;
    c.stmt(`UPDATE runs SET status = 'Cancelled', cancel_reason = ?, error = ?, finished_at = ?, waiting_on = NULL,
        updated_at = ? WHERE id = ?`).run(reason, JSON.stringify(cancelledError(reason)), now, now, task.id);
    insertState(c, task.id, task.attempt, 'Cancelled', now, { message: reason });
  }
  if (progress.startOnFailure) makeRunnable(progress.startOnFailure, 'a task failed: the on-failure task runs');
  if (progress.finished) {
    if (progress.finished.status === 'Completed') {
      const outputs = dag.tasks.filter((t) => !t.isOnFailure).map((t) => [t.name, byName.get(t.name)?.output ?? null] as const);
      c.stmt(`UPDATE runs SET status = 'Completed', output = ?, finished_at = ?, updated_at = ? WHERE id = ?`).run(
        composeOutputs(outputs),
        now,
        now,
        workflowRunId,
      );
      insertState(c, workflowRunId, workflow.attempt, 'Completed', now);
      // No task failed, so the on-failure task never runs.
      const onFailure = dag.tasks.find((t) => t.isOnFailure);
      const handler = onFailure ? byName.get(onFailure.name) : undefined;
      if (handler?.status === 'Waiting') {
        c.stmt(`UPDATE runs SET status = 'Skipped', finished_at = ?, waiting_on = NULL, updated_at = ? WHERE id = ?`).run(
          now,
          now,
          handler.id,
        );
        insertState(c, handler.id, handler.attempt, 'Skipped', now, { message: 'no task failed' });
      }
    } else {
      const errors: Record<string, string> = {};
      for (const task of tasks) {
        if (FAILED_TASK_STATES.includes(task.status) && task.error) {
          errors[task.task_name] = (JSON.parse(task.error) as { message: string }).message;
        }
      }
      const error = workflowFailure(workflow.workflow_name, errors);
      c.stmt(`UPDATE runs SET status = 'Failed', error = ?, finished_at = ?, updated_at = ? WHERE id = ?`).run(
        JSON.stringify(error),
        now,
        now,
        workflowRunId,
      );
      insertState(c, workflowRunId, workflow.attempt, 'Failed', now, { message: error.message, error });
    }
  }
  return progress.ready.length > 0 || progress.startOnFailure !== undefined;
}
