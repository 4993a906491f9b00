/**
 * Moves workflow runs forward after some of their tasks ended, inside the same
 * transaction: waiting tasks whose parents are done become Pending, tasks
 * downstream of a failure are cancelled, the on-failure task is started, or the
 * workflow run itself ends (its output is the map of its tasks' outputs). The
 * decisions are engine/dag.ts's; this file only applies them, for every workflow
 * run of a settled batch at once (a fixed number of statements, not a few per run).
 *
 * Concurrency: two tasks of one workflow may end at the same time in two
 * transactions (two workers settling siblings of a fan-in). The workflow rows are
 * locked FOR UPDATE first, in id order, so the advances of one workflow run one after the
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
import { PREPARED, type Tx } from './connection.js';
import { insertStates, type NewState } from './state-writes.js';

interface WorkflowRow {
  id: string;
  namespace: string;
  workflow_name: string;
  status: StateName;
  dag: StoredDag | null;
  attempt: number;
}

interface TaskRow {
  id: string;
  workflow_run_id: string;
  task_name: string;
  status: StateName;
  attempt: number;
  output: string | null;
  error: SerializedError | null;
}

/** What the batch writes, gathered from every workflow run's decisions. */
interface Changes {
  runnable: { task: TaskRow; message: string; namespace: string }[];
  cancelled: { id: string; reason: string; attempt: number }[];
  /** Workflow runs that end: Completed with the map of outputs, or Failed with the tasks' errors. */
  ended: { id: string; attempt: number; output: string | null; error: SerializedError | null }[];
  skipped: { id: string; attempt: number }[];
}

/** Advances the given workflow runs (rows locked in id order, so two transactions never deadlock on them). */
export async function advanceWorkflows(tx: Tx, workflowRunIds: Iterable<string>): Promise<void> {
  const ids = [...new Set(workflowRunIds)].sort();
  if (ids.length === 0) return;
  const { t } = tx;
  const workflows = (
    await tx.query<WorkflowRow>(
      `SELECT id, namespace, workflow_name, status, dag, attempt FROM ${t.runs}
       WHERE id = ANY($1::text[]) AND kind = 'workflow' ORDER BY id FOR UPDATE`,
      [ids],
      PREPARED,
    )
  ).rows.filter((workflow) => workflow.dag && workflow.status === 'Running');
  if (workflows.length === 0) return;
  const tasks = (
    await tx.query<TaskRow>(
      `SELECT id, workflow_run_id, task_name, status, attempt, output, error FROM ${t.runs}
       WHERE workflow_run_id = ANY($1::text[]) AND kind = 'task' AND id != workflow_run_id`,
      [workflows.map((workflow) => workflow.id)],
      PREPARED,
    )
  ).rows;
  const changes: Changes = { runnable: [], cancelled: [], ended: [], skipped: [] };
  for (const workflow of workflows) {
    decide(
      workflow,
      tasks.filter((task) => task.workflow_run_id === workflow.id),
      changes,
    );
  }
  await apply(tx, changes);
}

/** One workflow run's next moves, by engine/dag.ts. */
function decide(workflow: WorkflowRow, tasks: TaskRow[], changes: Changes): void {
  const dag = workflow.dag as StoredDag;
  const byName = new Map(tasks.map((task) => [task.task_name, task]));
  const progress = dagProgress(dag, new Map(tasks.map((task) => [task.task_name, task.status])));
  const makeRunnable = (name: string, message: string) => {
    const task = byName.get(name);
    if (task?.status === 'Waiting') changes.runnable.push({ task, message, namespace: workflow.namespace });
  };
  for (const name of progress.ready) makeRunnable(name, 'its parents have ended');
  for (const { name, failedParent } of progress.unreachable) {
    const task = byName.get(name);
    if (task) changes.cancelled.push({ id: task.id, reason: `upstream task "${failedParent}" failed`, attempt: task.attempt });
  }
  if (progress.startOnFailure) makeRunnable(progress.startOnFailure, 'a task failed: the on-failure task runs');
  if (!progress.finished) return;
  if (progress.finished.status === 'Completed') {
    const outputs = dag.tasks
      .filter((task) => !task.isOnFailure)
      .map((task) => [task.name, byName.get(task.name)?.output ?? null] as const);
    changes.ended.push({ id: workflow.id, attempt: workflow.attempt, output: composeOutputs(outputs), error: null });
    // No task failed, so the on-failure task never runs.
    const onFailure = dag.tasks.find((task) => task.isOnFailure);
    const handler = onFailure ? byName.get(onFailure.name) : undefined;
    if (handler?.status === 'Waiting') changes.skipped.push({ id: handler.id, attempt: handler.attempt });
  } else {
    const errors: Record<string, string> = {};
    for (const task of tasks) {
      if (FAILED_TASK_STATES.includes(task.status) && task.error) errors[task.task_name] = task.error.message;
    }
    const error = workflowFailure(workflow.workflow_name, errors) as SerializedError;
    changes.ended.push({ id: workflow.id, attempt: workflow.attempt, output: null, error });
  }
}

async function apply(tx: Tx, changes: Changes): Promise<void> {
  const { t, now } = tx;
  const states: NewState[] = [];
  if (changes.runnable.length > 0) {
    const updated = await tx.query<{ id: string }>(
      `UPDATE ${t.runs} SET status = 'Pending', available_at = $2, waiting_on = NULL, updated_at = $2
       WHERE id = ANY($1::text[]) AND status = 'Waiting' RETURNING id`,
      [changes.runnable.map((r) => r.task.id), now],
      PREPARED,
    );
    const madeRunnable = new Set(updated.rows.map((row) => row.id));
    const namespaces = new Set<string>();
    for (const { task, message, namespace } of changes.runnable) {
      if (!madeRunnable.has(task.id)) continue;
      states.push({ runId: task.id, attempt: task.attempt, name: 'Pending', at: now, message });
      tx.notify({ t: 'run', id: task.id });
      namespaces.add(namespace);
    }
    for (const ns of namespaces) tx.notify({ t: 'available', ns });
  }
  if (changes.cancelled.length > 0) {
    await tx.query(
      `UPDATE ${t.runs} r SET status = 'Cancelled', cancel_reason = x.reason, error = x.error, finished_at = $2,
         waiting_on = NULL, updated_at = $2
       FROM json_to_recordset($1::json) AS x(id text, reason text, error json) WHERE r.id = x.id AND r.id = ANY($3::text[])`,
      [
        JSON.stringify(changes.cancelled.map((c) => ({ id: c.id, reason: c.reason, error: cancelledError(c.reason) }))),
        now,
        changes.cancelled.map((c) => c.id),
      ],
    );
    for (const c of changes.cancelled) {
      states.push({ runId: c.id, attempt: c.attempt, name: 'Cancelled', at: now, message: c.reason });
      tx.notify({ t: 'run', id: c.id });
    }
  }
  if (changes.ended.length > 0) {
    await tx.query(
      `UPDATE ${t.runs} r SET status = x.status, output = x.output, error = x.error, finished_at = $2, updated_at = $2
       FROM json_to_recordset($1::json) AS x(id text, status text, output text, error json)
       WHERE r.id = x.id AND r.id = ANY($3::text[])`,
      [
        JSON.stringify(changes.ended.map((e) => ({ ...e, status: e.error ? 'Failed' : 'Completed' }))),
        now,
        changes.ended.map((e) => e.id),
      ],
      PREPARED,
    );
    for (const e of changes.ended) {
      states.push(
        e.error
          ? { runId: e.id, attempt: e.attempt, name: 'Failed', at: now, message: e.error.message, error: e.error }
          : { runId: e.id, attempt: e.attempt, name: 'Completed', at: now },
      );
      tx.notify({ t: 'run', id: e.id });
    }
  }
  if (changes.skipped.length > 0) {
    await tx.query(
      `UPDATE ${t.runs} SET status = 'Skipped', finished_at = $2, waiting_on = NULL, updated_at = $2 WHERE id = ANY($1::text[])`,
      [changes.skipped.map((s) => s.id), now],
    );
    for (const s of changes.skipped) {
      states.push({ runId: s.id, attempt: s.attempt, name: 'Skipped', at: now, message: 'no task failed' });
      tx.notify({ t: 'run', id: s.id });
    }
  }
  await insertStates(tx, states);
}
