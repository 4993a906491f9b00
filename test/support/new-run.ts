/** A plain run of task 'task-a' as the store receives it, for tests that drive a store directly. */
import { randomUUID } from 'node:crypto';
import type { NewRun } from '../../src/store/types.js';

export function newRun(overrides: Partial<NewRun> = {}): NewRun {
  const id = overrides.id ?? `run_${randomUUID()}`;
  return {
    id,
    workflowRunId: id,
    workflowName: overrides.taskName ?? 'task-a',
    taskName: 'task-a',
    parentRunId: null,
    parentWorkflowRunId: null,
    priority: 0,
    input: '{"n":1}',
    tags: {},
    metadata: {},
    customContext: {},
    trigger: { kind: 'manual' },
    maxCrashes: 3,
    cancelGraceMs: 10_000,
    ...overrides,
  };
}
