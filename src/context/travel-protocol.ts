/**
 * The messages that let a task's context travel to a worker thread or a child
 * process. The parent sends a snapshot of the context's data with the work to
 * run; the other side builds a `TaskContext` whose operations (log, stream,
 * progress, checkpoint, cancel…) are calls back to the parent, which carries
 * them out through its own context, and the parent pushes the cancellation
 * state. Shared by both transports; knows nothing of threads or processes.
 */
import { pathToFileURL } from 'node:url';
import type { LogLevel } from '../engine/types.js';
import {
  CancelledError,
  ContextClosedError,
  deserializeError,
  IdempotencyConflictError,
  InvalidStateError,
  LeaseLostError,
  MissingContextError,
  NonDeterminismError,
  NonRetryableError,
  PayloadTooLargeError,
  RunFailedError,
  RunNotFoundError,
  SerializationError,
  type SerializedError,
  StorageError,
  TaskRunTimeoutError,
  UnknownTaskError,
  ValidationError,
  type ValidationIssue,
  WorkerStoppingError,
} from '../errors.js';
import { type AmbientScope, currentScope } from './ambient-store.js';
import type { Cancellation, TaskContext, TaskContextData } from './task-context.js';

/** Bumped when a message changes shape; both ends come from one package copy, so this guards mix-ups. */
export const TRAVEL_PROTOCOL_VERSION = 1;

/** What the other side needs to rebuild the context (not the input, lifespan or upstream results). */
export type ContextData = Omit<
  TaskContextData<unknown, unknown>,
  'input' | 'workflowInput' | 'lifespan' | 'upstream' | 'parentWorkflowRunId'
> & { parentWorkflowRunId: string | null };

/** The parts of a context that change while the work runs. */
export interface ContextState {
  deadline: number | null;
  cancellation: Cancellation | null;
}

export interface ContextSnapshot {
  data: ContextData;
  /** The `withTags` / `withCustomContext` / typed-value scopes in force where the work was started. */
  scope: { tags: Record<string, string>; customContext: Record<string, string>; values?: AmbientScope['values'] };
  state: ContextState;
}

export interface StartMessage {
  t: 'start';
  v: number;
  /** A URL the other side can `import()`. */
  module: string;
  exportName: string;
  input: unknown;
  /** `null` when the work was started outside a task. */
  context: ContextSnapshot | null;
}

/** An operation of the context, asked of the parent. */
export type Operation =
  | { op: 'log'; level: LogLevel; message: string; fields: Record<string, unknown> | null }
  | { op: 'putStream'; data: unknown }
  | { op: 'progress'; fraction: number; message: string | undefined }
  | { op: 'saveCheckpoint'; data: unknown }
  | { op: 'loadCheckpoint' }
  | { op: 'cancel'; reason: string }
  | { op: 'refreshTimeout'; ms: number }
  | { op: 'releaseSlot' };

export type DoneMessage = { t: 'done'; ok: true; value: unknown } | { t: 'done'; ok: false; error: SerializedError };

/** From the thread or child process to the parent. */
export type FromRemote = { t: 'call'; id: number; call: Operation } | DoneMessage;

/** From the parent to the thread or child process (after the start message). */
export type ToRemote =
  | { t: 'reply'; id: number; ok: true; value: unknown; state: ContextState }
  | { t: 'reply'; id: number; ok: false; error: SerializedError; state: ContextState }
  | { t: 'abort'; reason: SerializedError; state: ContextState };

export function stateOf(context: TaskContext): ContextState {
  return { deadline: context.deadline?.getTime() ?? null, cancellation: context.cancellation ?? null };
}

/** The current context's data and scopes, ready to be cloned to another thread or process. */
export function snapshotOf(context: TaskContext): ContextSnapshot {
  const scope = currentScope();
  const trigger = context.trigger;
  return {
    data: {
      taskRunId: context.taskRunId,
      workflowRunId: context.workflowRunId,
      workflowId: context.workflowId,
      workflowVersionId: context.workflowVersionId,
      workflowName: context.workflowName,
      taskName: context.taskName,
      attempt: context.attempt,
      tags: { ...context.tags },
      additionalMetadata: { ...context.additionalMetadata },
      priority: context.priority,
      parentWorkflowRunId: context.parentWorkflowRunId ?? null,
      origin: trigger.kind === 'retry' ? trigger.origin : trigger,
      customContext: { ...context.customContext },
      rawDataPath: context.rawDataPath,
      worker: { ...context.worker, labels: { ...context.worker.labels } },
    },
    scope: {
      tags: { ...scope.tags },
      customContext: { ...scope.customContext },
      ...(scope.values ? { values: scope.values } : {}),
    },
    state: stateOf(context),
  };
}

/** A URL to `import()` from the other side: a URL, a `file:` URL string, an absolute path or a package specifier. */
export function moduleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') throw new TypeError('the module to run must be a URL or a path');
  if (module.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(module)) return pathToFileURL(module).href;
  if (module.startsWith('.')) {
    throw new TypeError(
      `relative module path "${module}": pass new URL('${module}', import.meta.url) or an absolute path, ` +
        'since the other side resolves it from elsewhere',
    );
  }
  return module;
}

// Baton's error classes, restored by name so `instanceof` and retry decisions work on both sides.
const ERROR_CLASSES: Record<string, { prototype: Error }> = {
  CancelledError,
  ContextClosedError,
  IdempotencyConflictError,
  InvalidStateError,
  LeaseLostError,
  MissingContextError,
  NonDeterminismError,
  NonRetryableError,
  PayloadTooLargeError,
  RunFailedError,
  RunNotFoundError,
  SerializationError,
  StorageError,
  TaskRunTimeoutError,
  UnknownTaskError,
  ValidationError,
  WorkerStoppingError,
};

/**
 * Rebuilds an error sent across: name, message, stack, code, data and cause; a
 * Baton error gets its class back (without class-specific fields other than
 * `issues` and `reason`).
 */
export function reviveError(data: SerializedError): Error {
  const error = deserializeError(data);
  const type = ERROR_CLASSES[data.name];
  if (!type || !data.code?.startsWith('BATON_')) return error;
  Object.setPrototypeOf(error, type.prototype);
  const fields: Record<string | symbol, unknown> = { [Symbol.for('baton.error')]: true };
  if (error instanceof ValidationError) {
    fields.issues = ((data.data as { issues?: ValidationIssue[] } | undefined)?.issues ?? []) as ValidationIssue[];
  }
  if (error instanceof CancelledError) fields.reason = data.message.replace(/^run cancelled: /, '');
  return Object.assign(error, fields);
}
