/**
 * Turns `wf.enqueue(input, options)` into stored rows: the workflow run's row
 * (holding its DAG) and one row per task, roots Pending and the rest Waiting
 * on their parents, all in one transaction. The ambient scope applies as for
 * tasks: inside a task, the workflow run is its child.
 */
import { createHash } from 'node:crypto';
import { currentScope, openFrame } from '../context/ambient-store.js';
import { parseDuration } from '../engine/duration.js';
import { validateWith } from '../engine/schema.js';
import { serializeWithLimit } from '../engine/serializer.js';
import type { TriggerOrigin } from '../engine/types.js';
import { ValidationError } from '../errors.js';
import { newId } from '../ids.js';
import type { NewRun, StoredDag } from '../store/types.js';
import { checkEnqueueOptions, type Enqueued, type EnqueueOptions } from './enqueue.js';
import type { BatonRuntime } from './runtime.js';

interface WorkflowLike {
  readonly name: string;
  readonly inputSchema: import('../engine/schema.js').Schema | undefined;
  dag(): StoredDag;
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
  checkEnqueueOptions(options);
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new ValidationError('enqueue options: give delay or runAt, not both', [
      { path: 'delay', message: 'conflicts with runAt' },
    ]);
  }
  const dag = workflow.dag();
  await validateWith(workflow.inputSchema, input, `input of workflow "${workflow.name}"`);
  const encoded = serializeWithLimit(input, `input of workflow "${workflow.name}"`, runtime.limits.input) ?? null;
  const scope = currentScope();
  const parent = options.detached ? undefined : openFrame()?.context;
  const tags = options.detached
    ? { ...(options.tags ?? {}) }
    : { ...(parent?.tags ?? {}), ...scope.tags, ...(options.tags ?? {}) };
  const metadata = options.detached
    ? { ...(options.metadata ?? {}) }
    : { ...(parent?.additionalMetadata ?? {}), ...(options.metadata ?? {}) };
  const customContext = options.detached ? {} : { ...scope.customContext };
  const origin: TriggerOrigin = trigger ?? (parent ? { kind: 'child', parentTaskRunId: parent.taskRunId } : { kind: 'manual' });
  const timing: Pick<NewRun, 'delayMs' | 'runAt'> = {};
  if (options.delay !== undefined) timing.delayMs = parseDuration(options.delay, 'delay');
  if (options.runAt !== undefined) timing.runAt = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
  const rows = buildWorkflowRows(runtime, {
    workflowName: workflow.name,
    dag,
    input: encoded,
    tags,
    metadata,
    customContext,
    trigger: origin,
    parentRunId: parent?.taskRunId ?? null,
    parentWorkflowRunId: parent?.workflowRunId ?? null,
    priority: options.priority,
    timing,
  });
  if (options.idempotencyKey !== undefined) {
    rows[0].idempotency = {
      key: options.idempotencyKey,
      inputHash: createHash('sha256')
        .update(encoded ?? '')
        .digest('hex'),
      windowMs: runtime.idempotencyWindowMs,
    };
  }
  return rows;
}

export interface WorkflowRunSpec {
  workflowName: string;
  dag: StoredDag;
  input: string | null;
  tags: Record<string, string>;
  metadata: Record<string, unknown>;
  customContext: Record<string, string>;
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
  const created = await store.createRuns(runtime.namespace, prepared.flat());
  // Results come in order; a deduplicated workflow run's tasks were not created, so they have none.
  const out: Enqueued[] = [];
  let i = 0;
  for (const runs of prepared) {
    const result = created[i++];
    if (!result) break;
    out.push(result);
    if (result.outcome === 'created') i += runs.length - 1;
  }
  if (created.some((c) => c.outcome === 'created')) (await runtime.notifier()).runsAvailable(runtime.namespace);
  return out;
}
