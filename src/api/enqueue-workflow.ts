/**
 * Turns `wf.enqueue(input, options)` into stored rows: the workflow run's row
 * (holding its DAG) and one row per task, roots Pending and the rest Waiting
 * on their parents, all in one transaction. The ambient scope applies as for
 * tasks: inside a task, the workflow run is its child.
 */
import { SPAN_ATTRIBUTES, traceEnqueue } from '../context/tracing.js';
import type { Schema } from '../engine/schema.js';
import type { TriggerOrigin } from '../engine/types.js';
import { newId } from '../ids.js';
import type { NewRun, StoredDag } from '../store/types.js';
import { announce, type Enqueued, type EnqueueOptions, enqueueBasis } from './enqueue.js';
import type { BatonRuntime } from './runtime.js';

interface WorkflowLike {
  readonly name: string;
  readonly inputSchema: Schema | undefined;
  dag(): StoredDag;
  /** Adds flow-control rules to the rows (keys from the input). */
  applyFlow?(rows: PreparedWorkflowRun, input: unknown): void;
}

/** The rows of one workflow run; the first is the workflow run's own row. */
export type PreparedWorkflowRun = [NewRun, ...NewRun[]];

export async function prepareWorkflowRun(
  runtime: BatonRuntime,
  workflow: WorkflowLike,
  input: unknown,
  options: EnqueueOptions = {},
  trigger?: TriggerOrigin,
): Promise<PreparedWorkflowRun> {
  const dag = workflow.dag();
  const basis = await enqueueBasis(runtime, `workflow "${workflow.name}"`, workflow.inputSchema, input, options, trigger);
  const rows = buildWorkflowRows(runtime, {
    workflowName: workflow.name,
    dag,
    input: basis.encoded,
    tags: basis.tags,
    metadata: basis.metadata,
    customContext: basis.customContext,
    contextValues: basis.contextValues,
    trigger: basis.origin,
    parentRunId: basis.parentRunId,
    parentWorkflowRunId: basis.parentWorkflowRunId,
    priority: options.priority,
    timing: basis.timing,
  });
  if (basis.idempotency) rows[0].idempotency = basis.idempotency;
  workflow.applyFlow?.(rows, input);
  return rows;
}

export interface WorkflowRunSpec {
  workflowName: string;
  dag: StoredDag;
  input: string | null;
  tags: Record<string, string>;
  metadata: Record<string, unknown>;
  customContext: Record<string, string>;
  /** Typed context values (stored text), for every row. */
  contextValues?: string | null;
  trigger: TriggerOrigin;
  parentRunId: string | null;
  parentWorkflowRunId: string | null;
  priority: number | undefined;
  timing: Pick<NewRun, 'delayMs' | 'runAt'>;
}

/** The rows of a new workflow run: its own row (Running, holding the DAG), then one per task. */
export function buildWorkflowRows(runtime: BatonRuntime, spec: WorkflowRunSpec): PreparedWorkflowRun {
  const workflowRunId = newId(runtime.clock.now());
  const common = {
    input: spec.input,
    tags: spec.tags,
    metadata: spec.metadata,
    customContext: spec.customContext,
    trigger: spec.trigger,
    workflowRunId,
    workflowName: spec.workflowName,
    ...(spec.contextValues ? { contextValues: spec.contextValues } : {}),
  };
  const row: NewRun = {
    ...common,
    id: workflowRunId,
    kind: 'workflow',
    queueKey: `>${spec.workflowName}`,
    dag: spec.dag,
    initialStatus: 'Running',
    taskName: spec.workflowName,
    parentRunId: spec.parentRunId,
    parentWorkflowRunId: spec.parentWorkflowRunId,
    priority: spec.priority ?? 1,
    maxCrashes: 0,
    cancelGraceMs: 0,
  };
  const tasks = spec.dag.tasks.map((task): NewRun => {
    const isRoot = task.parents.length === 0 && !task.isOnFailure;
    const run: NewRun = {
      ...common,
      ...spec.timing,
      id: newId(runtime.clock.now()),
      kind: 'task',
      queueKey: task.queueKey,
      taskName: task.name,
      parentRunId: workflowRunId,
      parentWorkflowRunId: spec.parentWorkflowRunId,
      priority: spec.priority ?? task.priority,
      maxCrashes: task.maxCrashes,
      cancelGraceMs: task.cancelGraceMs,
    };
    if (task.scheduleTimeoutMs !== undefined) run.scheduleTimeoutMs = task.scheduleTimeoutMs;
    if (!isRoot) {
      run.initialStatus = 'Waiting';
      run.waitingOn = task.isOnFailure
        ? { reason: 'workflow-failure', message: 'runs only if a task of the workflow run fails' }
        : {
            reason: 'parents',
            message: `waiting for ${task.parents.map((p) => `"${p}"`).join(', ')} to end`,
            parents: [...task.parents],
          };
    }
    return run;
  });
  return [row, ...tasks];
}

export async function insertWorkflowRuns(runtime: BatonRuntime, prepared: readonly PreparedWorkflowRun[]): Promise<Enqueued[]> {
  const store = await runtime.store();
  const rows = prepared.flat();
  const first = prepared.length === 1 ? prepared[0]?.[0] : undefined;
  const name = prepared[0]?.[0].workflowName ?? '';
  const attributes = first
    ? {
        [SPAN_ATTRIBUTES.runId]: first.id,
        [SPAN_ATTRIBUTES.task]: name,
        [SPAN_ATTRIBUTES.workflow]: name,
        [SPAN_ATTRIBUTES.workflowRunId]: first.id,
      }
    : { [SPAN_ATTRIBUTES.task]: name, [SPAN_ATTRIBUTES.workflow]: name, [SPAN_ATTRIBUTES.runCount]: prepared.length };
  // Every task run of the workflow run stores the enqueue span's context: the parent of its attempts' spans.
  const created = await traceEnqueue(`baton.enqueue ${name}`, attributes, rows, () => store.createRuns(runtime.namespace, rows));
  // Results come in order; a deduplicated workflow run's tasks were not created, so they have none.
  const out: Enqueued[] = [];
  let i = 0;
  for (const runs of prepared) {
    const result = created[i++];
    if (!result) break;
    out.push({ id: result.id, outcome: result.outcome });
    if (result.outcome === 'created') i += runs.length - 1;
  }
  await announce(runtime, created);
  return out;
}
