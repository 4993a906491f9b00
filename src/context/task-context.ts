/**
 * The execution context every task run gets: its data (ids, attempt, tags,
 * metadata, trigger, lifespan…) and its operations (log, stream, cancel,
 * refresh timeout, release slot, checkpoint, progress). The operations are
 * carried out by the worker through `AttemptControl`; once the attempt ends the
 * context is closed and operations that would change the run throw.
 */

import { type Duration, parseDuration } from '../engine/duration.js';
import type { EventRecord, LogLevel, Trigger, TriggerOrigin } from '../engine/types.js';
import { ContextClosedError } from '../errors.js';
import type { ContextValueEntry } from './ambient-store.js';
import { redactLogLine, viewValues } from './context-values.js';

export interface Cancellation {
  reason: string;
  requestedAt: Date;
  /** After this the attempt is abandoned if it has not stopped. */
  deadline: Date;
}

/** What the worker provides to carry out a context's operations. */
export interface AttemptControl {
  readonly isClosed: boolean;
  readonly signal: AbortSignal;
  readonly deadline: Date | undefined;
  readonly cancellation: Cancellation | undefined;
  log(level: LogLevel, message: string, fields: Record<string, unknown> | null): Promise<void>;
  cancel(reason: string): Promise<void>;
  refreshTimeout(ms: number): void;
  releaseSlot(): void;
  saveCheckpoint(data: unknown): Promise<void>;
  loadCheckpoint(): Promise<unknown>;
  progress(fraction: number, message: string | undefined): Promise<void>;
  putStream(data: unknown): Promise<void>;
}

/** Anything with a task's name and (phantom) output type, for `parentOutput`. */
export interface TaskRef<Output = unknown> {
  readonly name: string;
  /** Type-only: never set at run time. */
  readonly __output?: Output;
}

/** Outputs and errors of a DAG task's parents (empty for a standalone task). */
export interface UpstreamResults {
  outputs: ReadonlyMap<string, { skipped: boolean; output: unknown }>;
  errors: Readonly<Record<string, string>>;
}

export interface WorkerInfo {
  id: string;
  name: string;
  labels: Readonly<Record<string, string>>;
}

export interface TaskContextData<Input, Lifespan> {
  taskRunId: string;
  workflowRunId: string;
  workflowId: string;
  workflowVersionId: string;
  workflowName: string;
  taskName: string;
  attempt: number;
  tags: Record<string, string>;
  additionalMetadata: Record<string, unknown>;
  priority: number;
  input: Input;
  workflowInput: unknown;
  parentWorkflowRunId: string | undefined;
  origin: TriggerOrigin;
  lifespan: Lifespan;
  customContext: Record<string, string>;
  rawDataPath: string;
  worker: WorkerInfo;
  upstream: UpstreamResults;
  /** The run's typed context values (`defineContextKey`). */
  contextValues?: ReadonlyMap<string, ContextValueEntry>;
}

export interface LogOptions {
  level?: LogLevel;
  /** Reject when the line cannot be stored (default: never reject). */
  raiseOnError?: boolean;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export class TaskContext<Input = unknown, Lifespan = unknown> {
  readonly taskRunId: string;
  readonly workflowRunId: string;
  readonly workflowId: string;
  readonly workflowVersionId: string;
  readonly workflowName: string;
  readonly taskName: string;
  /** `{ runId: workflowRunId, name: taskName }`. */
  readonly action: { readonly runId: string; readonly name: string };
  /** Zero-based: 0 on the first attempt, +1 per retry. */
  readonly attempt: number;
  /** `attempt + 1`. */
  readonly attemptNumber: number;
  /** Same as `attempt`. */
  readonly retryCount: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly additionalMetadata: Readonly<Record<string, unknown>>;
  readonly priority: number;
  readonly input: Input;
  readonly workflowInput: unknown;
  readonly parentWorkflowRunId: string | undefined;
  readonly wasTriggeredByEvent: boolean;
  readonly triggeringEvent: EventRecord | undefined;
  /** What started this attempt: the run's origin on attempt 0, `retry` (wrapping it) later. */
  readonly trigger: Trigger;
  /** The value the worker's `lifespan` yielded. */
  readonly lifespan: Lifespan;
  readonly customContext: Readonly<Record<string, string>>;
  /** A folder for large outputs of this run (created on first use by you). */
  readonly rawDataPath: string;
  readonly worker: WorkerInfo;
  /** Checkpointed progress that survives a failed attempt and is loaded by the retry. */
  readonly checkpoint: {
    save(data: unknown): Promise<void>;
    load<T = unknown>(): Promise<T | undefined>;
  };
  /** `task name → error message` of failed upstream tasks (for on-failure tasks). */
  readonly taskRunErrors: Readonly<Record<string, string>>;

  readonly #control: AttemptControl;
  readonly #upstream: UpstreamResults;
  readonly #contextValues: ReadonlyMap<string, ContextValueEntry> | undefined;

  constructor(data: TaskContextData<Input, Lifespan>, control: AttemptControl) {
    this.taskRunId = data.taskRunId;
    this.workflowRunId = data.workflowRunId;
    this.workflowId = data.workflowId;
    this.workflowVersionId = data.workflowVersionId;
    this.workflowName = data.workflowName;
    this.taskName = data.taskName;
    this.action = Object.freeze({ runId: data.workflowRunId, name: data.taskName });
    this.attempt = data.attempt;
    this.attemptNumber = data.attempt + 1;
    this.retryCount = data.attempt;
    this.tags = Object.freeze({ ...data.tags });
    this.additionalMetadata = Object.freeze({ ...data.additionalMetadata });
    this.priority = data.priority;
    this.input = data.input;
    this.workflowInput = data.workflowInput;
    this.parentWorkflowRunId = data.parentWorkflowRunId;
    this.wasTriggeredByEvent = data.origin.kind === 'event';
    this.triggeringEvent = data.origin.kind === 'event' ? data.origin.event : undefined;
    this.trigger = data.attempt === 0 ? data.origin : { kind: 'retry', previousAttempt: data.attempt - 1, origin: data.origin };
    this.lifespan = data.lifespan;
    this.customContext = Object.freeze({ ...data.customContext });
    this.rawDataPath = data.rawDataPath;
    this.worker = Object.freeze({ ...data.worker, labels: Object.freeze({ ...data.worker.labels }) });
    this.#control = control;
    this.#upstream = data.upstream;
    this.#contextValues = data.contextValues;
    this.taskRunErrors = Object.freeze({ ...data.upstream.errors });
    this.checkpoint = Object.freeze({
      save: (value: unknown) => {
        this.#assertOpen('checkpoint.save');
        return control.saveCheckpoint(value);
      },
      load: async <T>() => (await control.loadCheckpoint()) as T | undefined,
    });
  }

  /** Aborted when the run is cancelled or this attempt times out; pass it to fetch and drivers. */
  get signal(): AbortSignal {
    return this.#control.signal;
  }

  /** When this attempt times out (undefined without a timeout). */
  get deadline(): Date | undefined {
    return this.#control.deadline;
  }

  /** Set once cancellation is requested. */
  get cancellation(): Cancellation | undefined {
    return this.#control.cancellation;
  }

  /**
   * The run's typed context values by key name (`defineContextKey`), redacted ones as
   * "[redacted]". Read a value itself with `key.get()`.
   */
  get contextValues(): Readonly<Record<string, unknown>> {
    return Object.freeze(viewValues(this.#contextValues));
  }

  /** Whether cancellation of this run was requested. */
  get cancelled(): boolean {
    return this.#control.cancellation !== undefined;
  }

  /** Whether this run was cancelled (same as `cancelled`, as a call). */
  done(): boolean {
    return this.cancelled;
  }

  /**
   * Persists a log line on this run. An object is stored as `fields`, with its JSON
   * text as the message. Never rejects unless `raiseOnError` is set.
   */
  log(line: unknown, fields?: Record<string, unknown>, options: LogOptions = {}): Promise<void> {
    const level = options.level && LEVELS.includes(options.level) ? options.level : 'info';
    let message: string;
    let stored: Record<string, unknown> | null = fields ?? null;
    if (typeof line === 'string') message = line;
    else if (typeof line === 'object' && line !== null) {
      message = safeJson(line);
      stored = { ...(line as Record<string, unknown>), ...(fields ?? {}) };
    } else message = String(line);
    // Redacted context values in force never reach a stored log line.
    const redacted = redactLogLine(message, stored);
    const written = this.#control.log(level, redacted.message, redacted.fields);
    return options.raiseOnError ? written : written.catch(() => undefined);
  }

  /** Appends a chunk (string, Uint8Array or JSON value) to this run's stream. */
  putStream(data: unknown): Promise<void> {
    this.#assertOpen('putStream');
    return this.#control.putStream(data);
  }

  /** Cancels this run; `ctx.signal` aborts and the run ends Cancelled. */
  cancel(reason = 'cancelled'): Promise<void> {
    this.#assertOpen('cancel');
    return this.#control.cancel(reason);
  }

  /** Sets this attempt's deadline to now + `duration` (never earlier than it already is). */
  refreshTimeout(duration: Duration): void {
    this.#assertOpen('refreshTimeout');
    this.#control.refreshTimeout(parseDuration(duration, 'refreshTimeout duration'));
  }

  /** Frees this run's worker slot while it keeps running. */
  releaseSlot(): void {
    this.#control.releaseSlot();
  }

  /** A progress figure (0..1) the dashboard and CLI draw as a bar. */
  progress(fraction: number, message?: string): Promise<void> {
    this.#assertOpen('progress');
    if (!Number.isFinite(fraction) || fraction < 0 || fraction > 1) {
      return Promise.reject(new RangeError(`progress must be a number from 0 to 1, got ${fraction}`));
    }
    return this.#control.progress(fraction, message);
  }

  /** The output of a parent task in a DAG, typed by that task's output. */
  parentOutput<Output>(task: TaskRef<Output> | string): Output {
    const name = typeof task === 'string' ? task : task.name;
    const result = this.#upstream.outputs.get(name);
    if (!result) throw new Error(`task "${name}" is not a parent of "${this.taskName}", so it has no output here`);
    if (result.skipped) throw new Error(`parent task "${name}" of "${this.taskName}" was skipped, so it has no output`);
    return result.output as Output;
  }

  /** Whether a parent task in a DAG was skipped. */
  wasSkipped(task: TaskRef | string): boolean {
    const name = typeof task === 'string' ? task : task.name;
    const result = this.#upstream.outputs.get(name);
    if (!result) throw new Error(`task "${name}" is not a parent of "${this.taskName}"`);
    return result.skipped;
  }

  /** The error message of a failed upstream task, if it failed. */
  fetchTaskRunError(task: TaskRef | string): string | undefined {
    return this.#upstream.errors[typeof task === 'string' ? task : task.name];
  }

  #assertOpen(operation: string): void {
    if (this.#control.isClosed) throw new ContextClosedError(operation, this.taskRunId);
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
