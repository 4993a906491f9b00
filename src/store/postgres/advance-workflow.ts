/**
 * Moves a workflow run forward after one of its tasks ended, inside the same
 * transaction: waiting tasks whose parents are done become Pending, tasks
 * downstream of a failure are cancelled, the on-failure task is started, or the
 * workflow run itself ends (its output is the map of its tasks' outputs). The
 * decisions are engine/dag.ts's; this file only applies them.
 *
 * Concurrency: two tasks of one workflow may end at the same time in two
 * transactions (two workers settling siblings of a fan-in). The workflow row is
 * locked FOR UPDATE first, so the advances of one workflow run one after the
 * other; under READ COMMITTED the task rows are read by a statement that starts
 * after the lock is granted, so the second advance sees the first one's
 * committed task (and its own), and the fan-in child is made runnable by
 * whichever comes last. Task rows are read without locking: the settling
 * transaction already holds the row of the task that ended, and locking its
 * siblings would deadlock two such transactions.
 */
import { composeOutputs, dagProgress, FAILED_TASK_STATES, workflowFailure } from '../../engine/dag.js';
import { cancelledError } from '../../engine/run-rules.js';
import type { StateName } from '../../engine/types.js';
import type { SerializedError } from '../../errors.js';
import type { StoredDag } from '../types.js';
import type { Tx } from './connection.js';
import { insertStates, type NewState } from './state-writes.js';

interface WorkflowRow {
  namespace: string;
  workflow_name: string;
  status: StateName;
  dag: StoredDag | null;
  attempt: number;
}

interface TaskRow {
  id: string;
  task_name: string;
  status: StateName;
  attempt: number;
  output: string | null;
  error: SerializedError | null;
}

/** Advances each workflow run in id order (so two transactions lock workflow rows in the same order). */
export async function advanceWorkflows(tx: Tx, workflowRunIds: Iterable<string>): Promise<void> {
  for (const id of [...new Set(workflowRunIds)].sort()) await advanceWorkflow(tx, id);
}

/** Returns whether any task became runnable (so workers should be woken). */
export async function advanceWorkflow(tx: Tx, workflowRunId: string): Promise<boolean> {
  const { t, now } = tx;
  const workflow = (
    await tx.query<WorkflowRow>(
      `SELECT namespace, workflow_name, status, dag, attempt FROM ${t.runs} WHERE id = $1 AND kind = 'workflow' FOR UPDATE`,
      [workflowRunId],
    )
  ).rows[0];
  if (!workflow?.dag || workflow.status !== 'Running') return false;
  const dag = workflow.dag;
  const tasks = (
    await tx.query<TaskRow>(
      `SELECT id, task_name, status, attempt, output, error FROM ${t.runs}
       WHERE workflow_run_id = $1 AND kind = 'task' AND id != workflow_run_id`,
      [workflowRunId],
    )
  ).rows;
  const byName = new Map(tasks.map((task) => [task.task_name, task]));
  const progress = dagProgress(dag, new Map(tasks.map((task) => [task.task_name, task.status])));
  const states: NewState[] = [];
  let isRunnable = false;
  const makeRunnable = async (name: string, message: string) => {
    const task = byName.get(name);
    if (task?.status !== 'Waiting') return;
    const updated = await tx.query(
      `UPDATE ${t.runs} SET status = 'Pending', available_at = $2, waiting_on = NULL, updated_at = $2
       WHERE id = $1 AND status = 'Waiting'`,
      [task.id, now],
    );
    if (!updated.rowCount) return;
    states.push({ runId: task.id, attempt: task.attempt, name: 'Pending', at: now, message });
    tx.notify({ t: 'run', id: task.id });
    isRunnable = true;
  };
  for (const name of progress.ready) await makeRunnable(name, 'its parents have ended');
  for (const { name, failedParent } of progress.unreachable) {
    const task = byName.get(name);
    if (!task) continue;
    const reason = `upstream task "${failedParent}" failed`;
    await tx.query(
      `UPDATE ${t.runs} SET status = 'Cancelled', cancel_reason = $2, error = $3, finished_at = $4, waiting_on = NULL,
         updated_at = $4 WHERE id = $1`,
      [task.id, reason, JSON.stringify(cancelledError(reason)), now],
    );
    states.push({ runId: task.id, attempt: task.attempt, name: 'Cancelled', at: now, message: reason });
    tx.notify({ t: 'run', id: task.id });
  }
  if (progress.startOnFailure) await makeRunnable(progress.startOnFailure, 'a task failed: the on-failure task runs');
  if (progress.finished) {
    if (progress.finished.status === 'Completed') {
      const outputs = dag.tasks
        .filter((task) => !task.isOnFailure)
        .map((task) => [task.name, byName.get(task.name)?.output ?? null] as const);
      await tx.query(`UPDATE ${t.runs} SET status = 'Completed', output = $2, finished_at = $3, updated_at = $3 WHERE id = $1`, [
        workflowRunId,
        composeOutputs(outputs),
        now,
      ]);
      states.push({ runId: workflowRunId, attempt: workflow.attempt, name: 'Completed', at: now });
      // No task failed, so the on-failure task never runs.
      const onFailure = dag.tasks.find((task) => task.isOnFailure);
      const handler = onFailure ? byName.get(onFailure.name) : undefined;
      if (handler?.status === 'Waiting') {
        await tx.query(
          `UPDATE ${t.runs} SET status = 'Skipped', finished_at = $2, waiting_on = NULL, updated_at = $2 WHERE id = $1`,
          [handler.id, now],
        );
        states.push({ runId: handler.id, attempt: handler.attempt, name: 'Skipped', at: now, message: 'no task failed' });
        tx.notify({ t: 'run', id: handler.id });
      }
    } else {
      const errors: Record<string, string> = {};
      for (const task of tasks) {
        if (FAILED_TASK_STATES.includes(task.status) && task.error) errors[task.task_name] = task.error.message;
      }
      const error = workflowFailure(workflow.workflow_name, errors);
      await tx.query(`UPDATE ${t.runs} SET status = 'Failed', error = $2, finished_at = $3, updated_at = $3 WHERE id = $1`, [
        workflowRunId,
        JSON.stringify(error),
        now,
      ]);
      states.push({
        runId: workflowRunId,
        attempt: workflow.attempt,
        name: 'Failed',
        at: now,
        message: error.message,
        error: error as SerializedError,
      });
    }
    tx.notify({ t: 'run', id: workflowRunId });
  }
  await insertStates(tx, states);
  if (isRunnable) tx.notify({ t: 'available', ns: workflow.namespace });
  return isRunnable;
}
