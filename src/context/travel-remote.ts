/**
 * The side of a worker thread or child process: loads the user's module, runs
 * the named export with the parent's context restored (`getTaskContext()`,
 * scopes), and sends its result or error back. The context's operations are
 * calls to the parent over the channel; this side never opens a store.
 */
import type { LogLevel } from '../engine/types.js';
import { SerializationError, type SerializedError, serializeError } from '../errors.js';
import { type AttemptFrame, ambientStorage } from './ambient-store.js';
import { type AttemptControl, TaskContext } from './task-context.js';
import {
  type ContextSnapshot,
  type ContextState,
  type DoneMessage,
  type FromRemote,
  type Operation,
  reviveError,
  type StartMessage,
  type ToRemote,
  TRAVEL_PROTOCOL_VERSION,
} from './travel-protocol.js';

/** How this side talks to its parent. */
export interface ParentChannel {
  send(message: FromRemote): void;
  /** Sends the last message; the transport may end this thread or process after it. */
  end(message: DoneMessage): void;
  onMessage(listener: (message: ToRemote) => void): void;
}

/** Context operations carried out by the parent, answered over the channel. */
class ProxiedControl implements AttemptControl {
  readonly #channel: ParentChannel;
  readonly #controller = new AbortController();
  readonly #calls = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 1;
  #state: ContextState;
  closed = false;

  constructor(channel: ParentChannel, state: ContextState) {
    this.#channel = channel;
    this.#state = state;
  }

  get isClosed(): boolean {
    return this.closed;
  }
  get signal(): AbortSignal {
    return this.#controller.signal;
  }
  get deadline(): Date | undefined {
    return this.#state.deadline === null ? undefined : new Date(this.#state.deadline);
  }
  get cancellation() {
    return this.#state.cancellation ?? undefined;
  }

  receive(message: ToRemote): void {
    this.#state = message.state;
    if (message.t === 'abort') {
      this.#controller.abort(reviveError(message.reason));
      return;
    }
    const call = this.#calls.get(message.id);
    this.#calls.delete(message.id);
    if (message.ok) call?.resolve(message.value);
    else call?.reject(reviveError(message.error));
  }

  #call(operation: Operation): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      this.#channel.send({ t: 'call', id, call: operation });
    });
  }

  /** For operations that return nothing: the parent reports their failures to its logger. */
  #tell(operation: Operation): void {
    this.#call(operation).catch(() => undefined);
  }

  async log(level: LogLevel, message: string, fields: Record<string, unknown> | null) {
    await this.#call({ op: 'log', level, message, fields });
  }
  async cancel(reason: string) {
    await this.#call({ op: 'cancel', reason });
  }
  refreshTimeout(ms: number): void {
    this.#tell({ op: 'refreshTimeout', ms });
  }
  releaseSlot(): void {
    this.#tell({ op: 'releaseSlot' });
  }
  async saveCheckpoint(data: unknown) {
    await this.#call({ op: 'saveCheckpoint', data });
  }
  loadCheckpoint(): Promise<unknown> {
    return this.#call({ op: 'loadCheckpoint' });
  }
  async progress(fraction: number, message: string | undefined) {
    await this.#call({ op: 'progress', fraction, message });
  }
  async putStream(data: unknown) {
    await this.#call({ op: 'putStream', data });
  }
}

async function loadExport(start: StartMessage): Promise<(input: unknown, context: TaskContext | undefined) => unknown> {
  const loaded = (await import(start.module)) as Record<string, unknown>;
  const fn = loaded[start.exportName];
  if (typeof fn !== 'function') {
    const names = Object.keys(loaded).filter((name) => typeof loaded[name] === 'function');
    throw new TypeError(
      `module ${start.module} has no exported function "${start.exportName}" (its exported functions: ${names.join(', ') || 'none'})`,
    );
  }
  return fn as (input: unknown, context: TaskContext | undefined) => unknown;
}

function contextFrom(snapshot: ContextSnapshot, control: AttemptControl): TaskContext {
  const { data } = snapshot;
  // The run's own typed context values are those of the scope that came from the run.
  const values = snapshot.scope.values;
  const runValues = values && new Map([...values].filter(([, entry]) => entry.fromRun));
  return new TaskContext(
    {
      ...data,
      parentWorkflowRunId: data.parentWorkflowRunId ?? undefined,
      input: undefined,
      workflowInput: undefined,
      lifespan: undefined,
      upstream: { outputs: new Map(), errors: {} },
      ...(runValues ? { contextValues: runValues } : {}),
    },
    control,
  );
}

async function invoke(channel: ParentChannel, start: StartMessage): Promise<unknown> {
  if (start.v !== TRAVEL_PROTOCOL_VERSION) {
    throw new Error(`this Baton speaks travel protocol ${TRAVEL_PROTOCOL_VERSION}, the parent sent version ${start.v}`);
  }
  const fn = await loadExport(start);
  const snapshot = start.context;
  if (!snapshot) return fn(start.input, undefined);
  const control = new ProxiedControl(channel, snapshot.state);
  channel.onMessage((message) => control.receive(message));
  const context = contextFrom(snapshot, control);
  const frame: AttemptFrame = { context, closed: false };
  try {
    const { tags, customContext, values } = snapshot.scope;
    return await ambientStorage.run({ frame, tags, customContext, ...(values ? { values } : {}) }, () =>
      fn(start.input, context),
    );
  } finally {
    frame.closed = true;
    control.closed = true;
  }
}

/** Runs the work of a start message and reports how it ended. Never throws. */
export async function runRemote(channel: ParentChannel, start: StartMessage): Promise<void> {
  let outcome: DoneMessage;
  try {
    outcome = { t: 'done', ok: true, value: await invoke(channel, start) };
  } catch (error) {
    outcome = { t: 'done', ok: false, error: serializeError(error) };
  }
  try {
    channel.end(outcome);
  } catch (error) {
    // The result cannot be cloned (a function, a class with private state…): say so instead.
    const refused: SerializedError = serializeError(
      new SerializationError(`the result of ${start.exportName} cannot be sent back: ${(error as Error).message}`),
    );
    channel.end({ t: 'done', ok: false, error: refused });
  }
}
