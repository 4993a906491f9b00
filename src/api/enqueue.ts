/**
 * Turns `task.enqueue(input, options)` into stored runs: checks the options,
 * validates the input (nothing is stored when it is invalid), applies the
 * ambient scope (a run enqueued inside a task is its child and inherits its
 * tags, metadata and custom context) and writes the batch in one transaction.
 */
import { createHash } from 'node:crypto';
import { currentScope, openFrame } from '../context/ambient-store.js';
import { type Duration, parseDuration } from '../engine/duration.js';
import { checkOptions, is } from '../engine/options.js';
import { validateWith } from '../engine/schema.js';
import { serializeWithLimit } from '../engine/serializer.js';
import type { EnqueueOutcome, JsonValue, TriggerOrigin } from '../engine/types.js';
import { ValidationError } from '../errors.js';
import { newId } from '../ids.js';
import type { NewRun } from '../store/types.js';
import type { TaskDefinition } from '../worker/task-definition.js';
import type { BatonRuntime } from './runtime.js';

export interface EnqueueOptions {
  /** String tags; they merge over the `withTags` scope and the parent run's tags (explicit wins). */
  tags?: Record<string, string>;
  /** JSON metadata (Hatchet's additional metadata); merges over the parent run's. */
  metadata?: Record<string, JsonValue>;
  /** 1 (low) to 4 (high); default: the task's priority. */
  priority?: number;
  /** A second enqueue with this key within the idempotency window returns the first run. */
  idempotencyKey?: string;
  /** Start no earlier than this long from now. */
  delay?: Duration;
  /** Start no earlier than this time. */
  runAt?: Date | number;
  /** Inside a task: start a root run instead of a child (no parent link, nothing inherited). */
  detached?: boolean;
}

/** Internal additions used by replay and (later) events and schedules. */
export interface EnqueueExtras {
  trigger?: TriggerOrigin;
}

export function checkEnqueueOptions(options: unknown): void {
  checkOptions('enqueue options', options, {
    tags: is.stringRecord,
    metadata: is.jsonRecord,
    priority: is.integer(1, 4),
    idempotencyKey: (v, k) =>
      typeof v === 'string' && v.length > 0 && v.length <= 512 ? undefined : `${k} must be a string of 1-512 characters`,
    delay: is.duration,
    runAt: (v, k) =>
      (v instanceof Date && !Number.isNaN(v.getTime())) || (typeof v === 'number' && Number.isFinite(v))
        ? undefined
        : `${k} must be a Date or epoch milliseconds`,
    detached: is.boolean,
  });
}

export async function prepareRun(
  runtime: BatonRuntime,
  def: TaskDefinition,
  input: unknown,
  options: EnqueueOptions = {},
  extras: EnqueueExtras = {},
): Promise<NewRun> {
  checkEnqueueOptions(options);
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new ValidationError('enqueue options: give delay or runAt, not both', [
      { path: 'delay', message: 'conflicts with runAt' },
    ]);
  }
  await validateWith(def.inputSchema, input, `input of task "${def.name}"`);
  const encoded = serializeWithLimit(input, `input of task "${def.name}"`, runtime.limits.input) ?? null;
  const scope = currentScope();
  const parent = options.detached ? undefined : openFrame()?.context;
  const tags = options.detached
    ? { ...(options.tags ?? {}) }
    : { ...(parent?.tags ?? {}), ...scope.tags, ...(options.tags ?? {}) };
  const metadata = options.detached
    ? { ...(options.metadata ?? {}) }
    : { ...(parent?.additionalMetadata ?? {}), ...(options.metadata ?? {}) };
  const customContext = options.detached ? {} : { ...scope.customContext };
  const id = newId(runtime.clock.now());
  const trigger: TriggerOrigin =
    extras.trigger ?? (parent ? { kind: 'child', parentTaskRunId: parent.taskRunId } : { kind: 'manual' });
  const run: NewRun = {
    id,
    workflowRunId: id,
    workflowName: def.name,
    taskName: def.name,
    parentRunId: parent?.taskRunId ?? null,
    parentWorkflowRunId: parent?.workflowRunId ?? null,
    priority: options.priority ?? def.priority,
    input: encoded,
    tags,
    metadata,
    customContext,
    trigger,
    maxCrashes: def.maxCrashes,
    cancelGraceMs: def.cancelGraceMs,
  };
  if (options.delay !== undefined) run.delayMs = parseDuration(options.delay, 'delay');
  if (options.runAt !== undefined) run.runAt = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
  if (def.scheduleTimeoutMs !== undefined) run.scheduleTimeoutMs = def.scheduleTimeoutMs;
  if (options.idempotencyKey !== undefined) {
    run.idempotency = {
      key: options.idempotencyKey,
      inputHash: createHash('sha256')
        .update(encoded ?? '')
        .digest('hex'),
      windowMs: runtime.idempotencyWindowMs,
    };
  }
  return run;
}

export interface Enqueued {
  id: string;
  outcome: EnqueueOutcome;
}

export async function insertRuns(runtime: BatonRuntime, runs: readonly NewRun[]): Promise<Enqueued[]> {
  const store = await runtime.store();
  const created = await store.createRuns(runtime.namespace, runs);
  if (created.some((c) => c.outcome === 'created')) (await runtime.notifier()).runsAvailable(runtime.namespace);
  return created;
}
