/**
 * Run templates: what the registry and schedule rows hold so that any process,
 * even one without the code, can create a task's or workflow's runs.
 */
import { deserialize } from '../engine/serializer.js';
import type { TriggerOrigin } from '../engine/types.js';
import { newId } from '../ids.js';
import type { NewRun, RunTemplate } from '../store/types.js';
import type { TaskDefinition } from '../worker/task-definition.js';
import { buildWorkflowRows } from './enqueue-workflow.js';
import type { BatonRuntime } from './runtime.js';

export function taskTemplate(def: TaskDefinition): RunTemplate {
  return {
    kind: 'task',
    name: def.name,
    priority: def.priority,
    maxCrashes: def.maxCrashes,
    cancelGraceMs: def.cancelGraceMs,
    ...(def.scheduleTimeoutMs === undefined ? {} : { scheduleTimeoutMs: def.scheduleTimeoutMs }),
  };
}

/** The rows of one root run from a template; the first row is the run a handle follows. */
export function rowsFromTemplate(
  runtime: BatonRuntime,
  template: RunTemplate,
  input: string | null,
  metadata: Record<string, unknown>,
  trigger: TriggerOrigin,
): NewRun[] {
  const rows = rowsWithoutRules(runtime, template, input, metadata, trigger);
  runtime.applyLocalFlow?.(template.name, rows, deserialize(input));
  return rows;
}

function rowsWithoutRules(
  runtime: BatonRuntime,
  template: RunTemplate,
  input: string | null,
  metadata: Record<string, unknown>,
  trigger: TriggerOrigin,
): NewRun[] {
  if (template.kind === 'workflow') {
    return buildWorkflowRows(runtime, {
      workflowName: template.name,
      dag: template.dag,
      input,
      tags: {},
      metadata,
      customContext: {},
      trigger,
      parentRunId: null,
      parentWorkflowRunId: null,
      priority: undefined,
      timing: {},
    });
  }
  const id = newId(runtime.clock.now());
  const run: NewRun = {
    id,
    workflowRunId: id,
    workflowName: template.name,
    taskName: template.name,
    parentRunId: null,
    parentWorkflowRunId: null,
    priority: template.priority,
    input,
    tags: {},
    metadata,
    customContext: {},
    trigger,
    maxCrashes: template.maxCrashes,
    cancelGraceMs: template.cancelGraceMs,
  };
  if (template.scheduleTimeoutMs !== undefined) run.scheduleTimeoutMs = template.scheduleTimeoutMs;
  return [run];
}
