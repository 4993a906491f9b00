/**
 * The one AsyncLocalStorage that carries Baton's ambient scope. It lives on
 * globalThis under Symbol.for('baton.context'), so two copies of the package in
 * one process share it. Nothing outside this folder reads it directly.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context as OtelContext } from '@opentelemetry/api';
import type { TaskContext } from './task-context.js';

/** The attempt a scope belongs to; `closed` turns true when the attempt ends. */
export interface AttemptFrame {
  readonly context: TaskContext;
  closed: boolean;
  /** The OpenTelemetry context of the attempt's span: the parent of what the attempt enqueues. */
  otel?: OtelContext;
}

/** One typed context value in force (`defineContextKey`). */
export interface ContextValueEntry {
  readonly value: unknown;
  readonly inherit: boolean;
  readonly redact: boolean;
  /** Restored from the current run (rather than set by a `key.with` scope). */
  readonly fromRun: boolean;
}

export interface AmbientScope {
  readonly frame: AttemptFrame | undefined;
  /** Tags of the `withTags` scopes in force (not the parent run's own tags). */
  readonly tags: Readonly<Record<string, string>>;
  /** Custom context in force: the run's own plus the `withCustomContext` scopes. */
  readonly customContext: Readonly<Record<string, string>>;
  /** Typed context values in force, by key name: the run's own plus the `key.with` scopes. */
  readonly values?: ReadonlyMap<string, ContextValueEntry>;
}

const KEY = Symbol.for('baton.context');
const holder = globalThis as unknown as Record<symbol, AsyncLocalStorage<AmbientScope> | undefined>;

holder[KEY] ??= new AsyncLocalStorage<AmbientScope>();
export const ambientStorage: AsyncLocalStorage<AmbientScope> = holder[KEY];

export const EMPTY_SCOPE: AmbientScope = Object.freeze({
  frame: undefined,
  tags: Object.freeze({}),
  customContext: Object.freeze({}),
});

export function currentScope(): AmbientScope {
  return ambientStorage.getStore() ?? EMPTY_SCOPE;
}

/** The open attempt frame of the current scope, if any. */
export function openFrame(): AttemptFrame | undefined {
  const frame = ambientStorage.getStore()?.frame;
  return frame && !frame.closed ? frame : undefined;
}
