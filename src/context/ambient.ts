/**
 * Ambient access to the execution context from any helper, across awaits,
 * timers and Promise.all branches, isolated between concurrent runs.
 */
import { MissingContextError } from '../errors.js';
import { getProcessLogger } from '../logger.js';
import {
  type AmbientScope,
  type AttemptFrame,
  ambientStorage,
  type ContextValueEntry,
  currentScope,
  EMPTY_SCOPE,
  openFrame,
} from './ambient-store.js';
import { redactLogLine } from './context-values.js';
import type { TaskContext } from './task-context.js';
import { traceLogFields } from './tracing.js';

/** The current task's context, or `undefined` outside a task run (or after its attempt ended). */
export function getTaskContext<Input = unknown, Lifespan = unknown>(): TaskContext<Input, Lifespan> | undefined {
  return openFrame()?.context as TaskContext<Input, Lifespan> | undefined;
}

/** The current task's context; throws `MissingContextError` outside a task run. */
export function getRunContext<Input = unknown, Lifespan = unknown>(): TaskContext<Input, Lifespan> {
  const context = getTaskContext<Input, Lifespan>();
  if (!context) throw new MissingContextError();
  return context;
}

/** `ctx.log` inside a task; the process logger outside one. */
export function taskLog(message: string, fields?: Record<string, unknown>): Promise<void> {
  const context = getTaskContext();
  if (context) return context.log(message, fields);
  const line = redactLogLine(message, fields ?? null);
  getProcessLogger().info({ ...traceLogFields(), ...(line.fields ?? {}) }, line.message);
  return Promise.resolve();
}

/** Runs `fn` with extra custom context, which every run enqueued inside receives as `ctx.customContext`. */
export function withCustomContext<T>(values: Record<string, string>, fn: () => T): T {
  checkStrings('withCustomContext', values);
  const scope = currentScope();
  return ambientStorage.run({ ...scope, customContext: { ...scope.customContext, ...values } }, fn);
}

/** The custom context in force here (the run's own plus enclosing `withCustomContext` scopes). */
export function getCustomContext(): Readonly<Record<string, string>> {
  return currentScope().customContext;
}

/** Runs `fn` with tags applied to every run enqueued inside (explicit enqueue tags win per key). */
export function withTags<T>(tags: Record<string, string>, fn: () => T): T {
  checkStrings('withTags', tags);
  const scope = currentScope();
  return ambientStorage.run({ ...scope, tags: { ...scope.tags, ...tags } }, fn);
}

/**
 * Runs `fn` with no task context, for shared resources (pools, agents, intervals)
 * created from inside a task, so one run's context never leaks into another.
 */
export function runOutsideTaskContext<T>(fn: () => T): T {
  return ambientStorage.run(EMPTY_SCOPE, fn);
}

/**
 * Runs an attempt's handler inside its own scope. `values` are the run's typed context
 * values; without them (the test kit) the values in force here act as the run's.
 * Worker and test-kit use only.
 */
export function runInAttemptScope<T>(
  frame: AttemptFrame,
  customContext: Record<string, string>,
  fn: () => T,
  values?: ReadonlyMap<string, ContextValueEntry>,
): T {
  const scope: AmbientScope = { frame, tags: {}, customContext: { ...customContext }, values: values ?? asRunValues() };
  return ambientStorage.run(scope, fn);
}

function asRunValues(): ReadonlyMap<string, ContextValueEntry> | undefined {
  const values = currentScope().values;
  if (!values || values.size === 0) return undefined;
  return new Map([...values].map(([name, entry]) => [name, { ...entry, fromRun: true }]));
}

function checkStrings(where: string, values: Record<string, string>): void {
  if (typeof values !== 'object' || values === null) throw new TypeError(`${where} takes an object of strings`);
  for (const [key, value] of Object.entries(values)) {
    if (typeof value !== 'string') throw new TypeError(`${where}: value of "${key}" must be a string, got ${typeof value}`);
  }
}
