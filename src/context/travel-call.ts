/**
 * The parent's side of running work elsewhere with the current context: builds
 * the start message, answers the other side's context operations through the
 * context here (the live attempt's, or a hydrated one), forwards cancellation,
 * and settles with the work's result or error. Transports (thread, process)
 * only move messages; they do not decide anything here.
 */
import { type Duration, parseDuration } from '../engine/duration.js';
import { MissingContextError, SerializationError, serializeError, toError } from '../errors.js';
import { getProcessLogger } from '../logger.js';
import { openFrame } from './ambient-store.js';
import { hydratedContext } from './serialized-context.js';
import type { TaskContext } from './task-context.js';
import {
  type FromRemote,
  moduleUrl,
  type Operation,
  reviveError,
  type StartMessage,
  snapshotOf,
  stateOf,
  type ToRemote,
  TRAVEL_PROTOCOL_VERSION,
} from './travel-protocol.js';

/** Options shared by `runInWorkerThread` and `runInChildProcess`. */
export interface TravelOptions {
  /**
   * Run with this serialized context (from `serializeContext()` or a `baton-context`
   * header) instead of the current one. It is verified like `hydratedContext` does:
   * tampered, foreign or stale strings are refused before anything starts.
   */
  context?: string;
  /** Also abort the work when this signal aborts (the context's `signal` always does). */
  signal?: AbortSignal;
  /** Once aborted, how long the work may take to return before it is stopped by force. Default `'5s'`. */
  abortGrace?: Duration;
}

/** Moves messages to and from one thread or child process. */
export interface Transport {
  send(message: ToRemote): void;
  onMessage(listener: (message: FromRemote) => void): void;
  /** Called when the other side ended or failed on its own; `error` says how. */
  onExit(listener: (error: Error) => void): void;
  /** Ends the other side (if it has not ended) and resolves once it is gone. */
  stop(): Promise<void>;
}

export type Launch = (start: StartMessage) => Transport;

type Outcome = { ok: true; value: unknown } | { ok: false; error: Error; stopNow?: boolean };

/** Runs `exportName` of `module` through `launch` with the current (or given) context. */
export async function callWithContext<Output>(
  what: string,
  module: string | URL,
  exportName: string,
  input: unknown,
  options: TravelOptions,
  launch: Launch,
): Promise<Output> {
  if (options.context !== undefined) {
    const { context, ...rest } = options;
    return hydratedContext(context, () => callWithContext<Output>(what, module, exportName, input, rest, launch));
  }
  if (typeof exportName !== 'string' || exportName === '') throw new TypeError(`${what}: exportName must be a non-empty string`);
  const abortGraceMs = parseDuration(options.abortGrace ?? '5s', `${what} abortGrace`);
  const context = openFrame()?.context;
  const signals = [context?.signal, options.signal].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  signal?.throwIfAborted();
  const start: StartMessage = {
    t: 'start',
    v: TRAVEL_PROTOCOL_VERSION,
    module: moduleUrl(module),
    exportName,
    input,
    context: context ? snapshotOf(context) : null,
  };
  let transport: Transport;
  try {
    transport = launch(start);
  } catch (error) {
    // Threads throw a DataCloneError; the IPC channel's serializer throws a plain Error.
    if (!/could not be cloned/.test((error as Error).message)) throw error;
    throw new SerializationError(`the input of ${exportName} cannot be sent to a ${what}: ${(error as Error).message}`);
  }
  return serve<Output>(transport, context, signal, abortGraceMs);
}

async function serve<Output>(
  transport: Transport,
  context: TaskContext | undefined,
  signal: AbortSignal | undefined,
  abortGraceMs: number,
): Promise<Output> {
  const pending = new Set<Promise<void>>();
  let settle!: (outcome: Outcome) => void;
  const outcome = new Promise<Outcome>((resolve) => {
    settle = resolve;
  });
  transport.onMessage((message) => {
    if (message.t === 'done') {
      settle(message.ok ? { ok: true, value: message.value } : { ok: false, error: reviveError(message.error) });
      return;
    }
    const answered = answer(transport, context, message.id, message.call);
    pending.add(answered);
    void answered.then(() => pending.delete(answered));
  });
  transport.onExit((error) => settle({ ok: false, error }));
  // Real time, not the Clock: this bounds a real thread or process that must not outlive the call.
  let graceTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    const reason = toError(signal?.reason);
    const state = context ? stateOf(context) : { deadline: null, cancellation: null };
    transport.send({ t: 'abort', reason: serializeError(reason), state });
    graceTimer = setTimeout(() => settle({ ok: false, error: reason, stopNow: true }), abortGraceMs);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await outcome;
    // Operations sent before the result (an un-awaited ctx.log, say) are applied before it counts.
    if (result.ok || !result.stopNow) await Promise.allSettled([...pending]);
    if (!result.ok) throw result.error;
    return result.value as Output;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    clearTimeout(graceTimer);
    await transport.stop();
  }
}

/** Carries out one operation through the context here and replies with its outcome. Never rejects. */
async function answer(transport: Transport, context: TaskContext | undefined, id: number, call: Operation): Promise<void> {
  const state = () => (context ? stateOf(context) : { deadline: null, cancellation: null });
  let failure: unknown;
  try {
    if (!context) throw new MissingContextError(`ctx.${call.op}()`);
    const value = await apply(context, call);
    transport.send({ t: 'reply', id, ok: true, value, state: state() });
    return;
  } catch (error) {
    failure = error;
  }
  if (call.op === 'refreshTimeout' || call.op === 'releaseSlot') {
    getProcessLogger().warn(
      { err: failure, runId: context?.taskRunId },
      `ctx.${call.op}() from another thread or process failed`,
    );
  }
  try {
    transport.send({ t: 'reply', id, ok: false, error: serializeError(failure), state: state() });
  } catch {
    // The other side is gone; nothing waits for this answer any more.
  }
}

async function apply(context: TaskContext, call: Operation): Promise<unknown> {
  switch (call.op) {
    case 'log':
      return context.log(call.message, call.fields ?? undefined, { level: call.level, raiseOnError: true });
    case 'putStream':
      return context.putStream(call.data);
    case 'progress':
      return context.progress(call.fraction, call.message);
    case 'saveCheckpoint':
      return context.checkpoint.save(call.data);
    case 'loadCheckpoint':
      return context.checkpoint.load();
    case 'cancel':
      return context.cancel(call.reason);
    case 'refreshTimeout':
      return context.refreshTimeout(call.ms);
    case 'releaseSlot':
      return context.releaseSlot();
  }
}
