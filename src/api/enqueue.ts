/**
 * Turns `task.enqueue(input, options)` into stored runs: checks the options,
 * validates the input (nothing is stored when it is invalid), applies the
 * ambient scope (a run enqueued inside a task is its child and inherits its
 * tags, metadata and custom context) and writes the batch in one transaction.
 */
import { createHash } from 'node:crypto';
import { currentScope, openFrame } from '../context/ambient-store.js';
import { encodeContextValues, hasRedacted, valuesToStore } from '../context/context-values.js';
import { SPAN_ATTRIBUTES, traceEnqueue } from '../context/tracing.js';
import { type Duration, parseDuration } from '../engine/duration.js';
import { checkOptions, is } from '../engine/options.js';
import { type Schema, validateWith } from '../engine/schema.js';
import { serializeWithLimit } from '../engine/serializer.js';
import type { EnqueueOutcome, JsonValue, TriggerOrigin } from '../engine/types.js';
import { ValidationError } from '../errors.js';
import { newId } from '../ids.js';
import type { CreatedRun, NewRun, Store } from '../store/types.js';
import type { TaskDefinition } from '../worker/task-definition.js';
import { resolveFlow } from './flow-options.js';
import type { BatonRuntime } from './runtime.js';
import { currentTransactionId } from './transaction.js';

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

/** The largest epoch milliseconds a Date can hold. */
const MAX_EPOCH_MS = 8.64e15;

export function checkEnqueueOptions(options: unknown): void {
  checkOptions('enqueue options', options, {
    tags: is.stringRecord,
    metadata: is.jsonRecord,
    priority: is.integer(1, 4),
    idempotencyKey: (v, k) =>
      typeof v === 'string' && v.length > 0 && v.length <= 512 ? undefined : `${k} must be a string of 1-512 characters`,
    delay: is.duration,
    runAt: (v, k) =>
      (v instanceof Date && !Number.isNaN(v.getTime())) || (typeof v === 'number' && Math.abs(v) <= MAX_EPOCH_MS)
        ? undefined
        : `${k} must be a Date or epoch milliseconds`,
    detached: is.boolean,
  });
}

/** What every enqueue (task or workflow) takes from its options and the ambient scope. */
export interface EnqueueBasis {
  encoded: string | null;
  tags: Record<string, string>;
  metadata: Record<string, unknown>;
  customContext: Record<string, string>;
  /** Typed context values to store (null: none). */
  contextValues: string | null;
  origin: TriggerOrigin;
  parentRunId: string | null;
  parentWorkflowRunId: string | null;
  timing: Pick<NewRun, 'delayMs' | 'runAt'>;
  idempotency: NewRun['idempotency'];
}

/**
 * Checks the options, validates and encodes the input (nothing is stored when it is
 * invalid), and applies the ambient scope: inside a task the run is its child and
 * inherits its tags, metadata and custom context (explicit tags > withTags > parent).
 */
export async function enqueueBasis(
  runtime: BatonRuntime,
  what: string,
  schema: Schema | undefined,
  input: unknown,
  options: EnqueueOptions,
  trigger: TriggerOrigin | undefined,
): Promise<EnqueueBasis> {
  checkEnqueueOptions(options);
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new ValidationError('enqueue options: give delay or runAt, not both', [
      { path: 'delay', message: 'conflicts with runAt' },
    ]);
  }
  await validateWith(schema, input, `input of ${what}`);
  const encoded = serializeWithLimit(input, `input of ${what}`, runtime.limits.input) ?? null;
  const scope = currentScope();
  const parent = options.detached ? undefined : openFrame()?.context;
  const timing: Pick<NewRun, 'delayMs' | 'runAt'> = {};
  if (options.delay !== undefined) timing.delayMs = parseDuration(options.delay, 'delay');
  if (options.runAt !== undefined) timing.runAt = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
  const values = valuesToStore(scope, options.detached === true);
  const contextValues = values
    ? encodeContextValues(values, hasRedacted(values) ? await instanceSecret(runtime) : undefined, runtime.limits.input)
    : null;
  return {
    encoded,
    tags: options.detached ? { ...(options.tags ?? {}) } : { ...(parent?.tags ?? {}), ...scope.tags, ...(options.tags ?? {}) },
    metadata: options.detached
      ? { ...(options.metadata ?? {}) }
      : { ...(parent?.additionalMetadata ?? {}), ...(options.metadata ?? {}) },
    customContext: options.detached ? {} : { ...scope.customContext },
    contextValues,
    origin: trigger ?? (parent ? { kind: 'child', parentTaskRunId: parent.taskRunId } : { kind: 'manual' }),
    parentRunId: parent?.taskRunId ?? null,
    parentWorkflowRunId: parent?.workflowRunId ?? null,
    timing,
    idempotency:
      options.idempotencyKey === undefined
        ? undefined
        : {
            key: options.idempotencyKey,
            inputHash: createHash('sha256')
              .update(encoded ?? '')
              .digest('hex'),
            windowMs: runtime.idempotencyWindowMs,
          },
  };
}

export async function prepareRun(
  runtime: BatonRuntime,
  def: TaskDefinition,
  input: unknown,
  options: EnqueueOptions = {},
  extras: EnqueueExtras = {},
): Promise<NewRun> {
  const basis = await enqueueBasis(runtime, `task "${def.name}"`, def.inputSchema, input, options, extras.trigger);
  const id = newId(runtime.clock.now());
  const run: NewRun = {
    id,
    workflowRunId: id,
    workflowName: def.name,
    taskName: def.name,
    parentRunId: basis.parentRunId,
    parentWorkflowRunId: basis.parentWorkflowRunId,
    priority: options.priority ?? def.priority,
    input: basis.encoded,
    tags: basis.tags,
    metadata: basis.metadata,
    customContext: basis.customContext,
    trigger: basis.origin,
    maxCrashes: def.maxCrashes,
    cancelGraceMs: def.cancelGraceMs,
    ...basis.timing,
  };
  if (def.scheduleTimeoutMs !== undefined) run.scheduleTimeoutMs = def.scheduleTimeoutMs;
  if (basis.idempotency) run.idempotency = basis.idempotency;
  if (basis.contextValues !== null) run.contextValues = basis.contextValues;
  const transactionId = currentTransactionId();
  if (transactionId) run.transactionId = transactionId;
  applyTaskFlow(def, run, input);
  return run;
}

/** Adds the task's flow-control rules to its new run, keys computed from the input. */
export function applyTaskFlow(def: TaskDefinition, run: NewRun, input: unknown): void {
  const { flow, debounce } = resolveFlow(def.flow, { name: def.name, holderId: run.id }, input, {
    taskName: def.name,
    tags: run.tags,
    metadata: run.metadata,
    priority: run.priority,
  });
  if (flow) run.flow = flow;
  if (debounce) run.debounce = debounce;
}

export interface Enqueued {
  id: string;
  outcome: EnqueueOutcome;
}

export async function insertRuns(runtime: BatonRuntime, runs: readonly NewRun[]): Promise<Enqueued[]> {
  const store = await runtime.store();
  const first = runs[0];
  const attributes =
    runs.length === 1 && first
      ? {
          [SPAN_ATTRIBUTES.runId]: first.id,
          [SPAN_ATTRIBUTES.task]: first.taskName,
          [SPAN_ATTRIBUTES.workflowRunId]: first.workflowRunId,
        }
      : { [SPAN_ATTRIBUTES.task]: first?.taskName ?? '', [SPAN_ATTRIBUTES.runCount]: runs.length };
  // The enqueue span's context is stored with the runs: the parent of their attempts' spans.
  const created = await traceEnqueue(`baton.enqueue ${first?.taskName ?? ''}`, attributes, runs, () =>
    store.createRuns(runtime.namespace, runs),
  );
  await announce(runtime, created);
  return created.map(({ id, outcome }) => ({ id, outcome }));
}

const secrets = new WeakMap<Store, Promise<Buffer>>();

/** The instance secret, which seals redacted context values (read once per store). */
export async function instanceSecret(runtime: BatonRuntime): Promise<Buffer> {
  const store = await runtime.store();
  let secret = secrets.get(store);
  if (!secret) {
    secret = store.secret().then((text) => Buffer.from(text, 'base64url'));
    secrets.set(store, secret);
  }
  return secret;
}

/** Wakes workers for new runs, and the workers of runs an enqueue cancelled (`cancel-in-progress`). */
export async function announce(runtime: BatonRuntime, created: readonly CreatedRun[]): Promise<void> {
  const notifier = await runtime.notifier();
  if (created.some((c) => c.outcome === 'created' || c.outcome === 'debounced')) notifier.runsAvailable(runtime.namespace);
  for (const change of created.flatMap((c) => c.cancelled ?? [])) {
    notifier.runChanged(change.id);
    if (change.status === 'Cancelling') notifier.cancelRequested(change.id);
  }
}
