/**
 * Every public error class. Each carries a stable `code` and is branded with
 * `Symbol.for('baton.error')` so `isBatonError` works across duplicate installs.
 * Errors are persisted as plain data through `serializeError`, never as objects.
 */

const BRAND = Symbol.for('baton.error');

/** A failure as stored in the database and returned by the API. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  data?: unknown;
  cause?: SerializedError;
}

export class BatonError extends Error {
  readonly code: string;
  readonly [BRAND] = true;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export function isBatonError(value: unknown): value is BatonError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** Thrown when an error is branded with the given class name (works across installs). */
function hasName(value: unknown, name: string): boolean {
  return isBatonError(value) && value.name === name;
}

export interface ValidationIssue {
  /** Dotted path of the failing field, `''` for the value itself. */
  path: string;
  message: string;
}

/** Input or output failed its schema, or an option is unknown or has a bad value. */
export class ValidationError extends BatonError {
  readonly issues: ValidationIssue[];
  constructor(message: string, issues: ValidationIssue[] = []) {
    super('BATON_VALIDATION', message);
    this.issues = issues;
  }
}

/** Throw it from a task to fail the run at once, without retries. */
export class NonRetryableError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BATON_NON_RETRYABLE', message, options);
  }
  static is(value: unknown): boolean {
    return hasName(value, 'NonRetryableError');
  }
}

/** An attempt ran past its deadline (`timeout`) or a run waited past `scheduleTimeout`. */
export class TaskRunTimeoutError extends BatonError {
  constructor(message: string) {
    super('BATON_TIMEOUT', message);
  }
}

/** The run was cancelled; `ctx.signal.reason` is one of these. */
export class CancelledError extends BatonError {
  readonly reason: string;
  constructor(reason: string) {
    super('BATON_CANCELLED', `run cancelled: ${reason}`);
    this.reason = reason;
  }
}

/** `getRunContext()` was called outside a task run. */
export class MissingContextError extends BatonError {
  constructor(what = 'getRunContext()') {
    super('BATON_MISSING_CONTEXT', `${what} was called outside a task run; use getTaskContext() to test for one`);
  }
}

/** An operation that changes a run was called on a context whose attempt has ended. */
export class ContextClosedError extends BatonError {
  constructor(operation: string, runId: string) {
    super(
      'BATON_CONTEXT_CLOSED',
      `ctx.${operation}() was called after the attempt of run ${runId} ended; ` +
        'a callback outlived its task (await it inside the task, or create it with runOutsideTaskContext)',
    );
  }
}

/** A value cannot be stored: a function, a symbol, a cycle, an unsupported object or a broken string. */
export class SerializationError extends BatonError {
  constructor(message: string) {
    super('BATON_SERIALIZATION', message);
  }
}

/** A payload is over its configured size limit. */
export class PayloadTooLargeError extends BatonError {
  readonly size: number;
  readonly limit: number;
  constructor(what: string, size: number, limit: number) {
    super('BATON_PAYLOAD_TOO_LARGE', `${what} is ${size} bytes, over the limit of ${limit} bytes`);
    this.size = size;
    this.limit = limit;
  }
}

export class RunNotFoundError extends BatonError {
  readonly runId: string;
  constructor(runId: string) {
    super('BATON_RUN_NOT_FOUND', `no run with id ${runId} in this namespace`);
    this.runId = runId;
  }
}

export class UnknownTaskError extends BatonError {
  readonly taskName: string;
  constructor(taskName: string, detail = 'it is not defined on this Baton instance') {
    super('BATON_UNKNOWN_TASK', `unknown task "${taskName}": ${detail}`);
    this.taskName = taskName;
  }
}

/** An idempotency key was reused with a different input. */
export class IdempotencyConflictError extends BatonError {
  readonly existingRunId: string;
  constructor(key: string, existingRunId: string) {
    super(
      'BATON_IDEMPOTENCY_CONFLICT',
      `idempotency key "${key}" was already used by run ${existingRunId} with a different input`,
    );
    this.existingRunId = existingRunId;
  }
}

/** The store failed; `retryable` says whether trying again may help (busy, connection lost). */
export class StorageError extends BatonError {
  readonly retryable: boolean;
  constructor(message: string, options: { cause?: unknown; retryable: boolean }) {
    super('BATON_STORAGE', message, { cause: options.cause });
    this.retryable = options.retryable;
  }
}

/** The run's state does not allow the operation (retrying a running run, say). */
export class InvalidStateError extends BatonError {
  constructor(message: string) {
    super('BATON_INVALID_STATE', message);
  }
}

/** `handle.result()` rejects with this when the run did not complete. */
export class RunFailedError extends BatonError {
  readonly runId: string;
  /** Final state name: `Failed`, `TimedOut`, `Crashed` or `Cancelled`. */
  readonly stateName: string;
  /** The stored failure, as data. */
  readonly failure: SerializedError | undefined;

  constructor(runId: string, stateName: string, failure: SerializedError | undefined) {
    const why = failure ? `${failure.name}: ${failure.message}` : stateName;
    super('BATON_RUN_FAILED', `run ${runId} ended ${stateName}: ${why}`, {
      cause: failure ? deserializeError(failure) : undefined,
    });
    this.runId = runId;
    this.stateName = stateName;
    this.failure = failure;
  }
}

/** Turns anything thrown into an Error, keeping non-Error values as `data`. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  const error = new Error(`a non-Error value was thrown: ${text}`);
  error.name = 'NonErrorThrown';
  (error as Error & { data?: unknown }).data = { thrown: text };
  return error;
}

const MAX_CAUSE_DEPTH = 5;

/** Plain data for a failure: name, message, code, stack, data and the cause chain. */
export function serializeError(value: unknown, depth = 0): SerializedError {
  const error = toError(value);
  const out: SerializedError = { name: error.name || 'Error', message: String(error.message) };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  if (error.stack) out.stack = error.stack;
  const data = (error as { data?: unknown }).data;
  if (data !== undefined) out.data = plainData(data);
  if (error instanceof ValidationError) out.data = { issues: error.issues };
  if (error.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeError(error.cause, depth + 1);
  return out;
}

function plainData(data: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(data)) as unknown;
  } catch {
    return String(data);
  }
}

/** Rebuilds an Error from stored data (the class is not restored; `name` and `code` are). */
export function deserializeError(data: SerializedError): Error {
  const error = new Error(data.message, data.cause ? { cause: deserializeError(data.cause) } : undefined);
  error.name = data.name;
  if (data.stack) error.stack = data.stack;
  if (data.code) (error as Error & { code?: string }).code = data.code;
  if (data.data !== undefined) (error as Error & { data?: unknown }).data = data.data;
  return error;
}

/** This attempt's lease was taken over (its worker was presumed dead); it must stop and write nothing. */
export class LeaseLostError extends BatonError {
  constructor(runId: string) {
    super('BATON_LEASE_LOST', `the lease on run ${runId} was lost (another worker took it over); this attempt stops`);
  }
}

/** The worker is stopping and gave the run back to the queue. */
export class WorkerStoppingError extends BatonError {
  constructor(workerName: string) {
    super('BATON_WORKER_STOPPING', `worker ${workerName} is stopping; the run goes back to the queue`);
  }
}

/** On replay, a durable task asked for steps in another order or under other names than it recorded. */
export class NonDeterminismError extends BatonError {
  readonly stepKey: string;
  constructor(message: string, stepKey: string) {
    super('BATON_NON_DETERMINISM', message);
    this.stepKey = stepKey;
  }
}
