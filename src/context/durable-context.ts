/**
 * The context of a durable task: a TaskContext plus recorded steps and recorded
 * `now()` / `randomUUID()`. When a run is executed again (after a crash, a retry
 * or a resume) the code runs from the top and every recorded step returns its
 * record instead of running; a step's identity is `name#n`, the n-th call of that
 * name, so loops and Promise.all branches keep their identities. Asking for
 * steps in another order than the record raises NonDeterminismError.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { type Duration, parseDuration } from '../engine/duration.js';
import { is } from '../engine/options.js';
import { deserialize, serializeWithLimit } from '../engine/serializer.js';
import type { EventRecord } from '../engine/types.js';
import { chooseWinner, nextSleepDeadline, type WaitGroup } from '../engine/wait-conditions.js';
import {
  deserializeError,
  LeaseLostError,
  NonDeterminismError,
  type SerializedError,
  serializeError,
  toError,
} from '../errors.js';
import { currentScope } from './ambient-store.js';
import { redactError } from './context-values.js';
import type { AttemptControl, TaskContextData } from './task-context.js';
import { TaskContext } from './task-context.js';
import { inSpan, SPAN_ATTRIBUTES, SpanKind } from './tracing.js';

export interface StepRecord {
  key: string;
  seq: number;
  kind: 'step' | 'now' | 'uuid' | 'sleep' | 'child' | 'wait';
  output: string | null;
  error: SerializedError | null;
}

/** What the worker provides to record steps. */
export interface DurableControl {
  /** Steps recorded by earlier executions of this run, in call order. */
  readonly recorded: readonly StepRecord[];
  /** Records a step now (after flushing values recorded with `recordLater`). */
  record(step: StepRecord): Promise<void>;
  /** Records a value with the next write (now(), randomUUID()). */
  recordLater(step: StepRecord): void;
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /**
   * Ends this attempt without ending the run: it turns Waiting, holds no slot and no
   * memory, and is executed again (replayed) from `wakeAt` on. Never resolves.
   */
  suspend(
    wakeAt: number | null,
    message: string,
    waitFor?: { runId?: string; events?: { keys: string[]; since: number; seenEventIds: string[] } },
  ): Promise<never>;
  /** When the run was first claimed (events pushed since then count for its waits). */
  readonly runStartedAt: number;
  /** Events with these keys pushed since `since` that this run has not consumed, oldest first. */
  findEvents(keys: readonly string[], since: number): Promise<EventRecord[]>;
  /** Records a wait's outcome and consumes its events atomically. */
  resolveWait(step: StepRecord, eventIds: readonly string[]): Promise<void>;
  /** Whether a run has ended, with its output or failure. */
  runResult(runId: string): Promise<{ ended: false } | { ended: true; output: unknown } | { ended: true; error: Error }>;
  readonly outputLimit: number;
  /** Runs `fn` in the database transaction that records the step (see Store.runStepTransaction). */
  transaction<T>(
    step: { key: string; seq: number },
    fn: (tx: DurableTransaction) => Promise<T>,
    encode: (value: T) => string | null,
  ): Promise<{ outcome: 'committed'; value: T } | { outcome: 'exists'; record: StepRecord } | { outcome: 'fenced' }>;
}

/** SQL on Baton's own connection inside `ctx.transaction`: `$1, $2, …` placeholders on both stores. */
export interface DurableTransaction {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>;
}

export interface StepOptions {
  /** Retries of this step inside the attempt (default 0). Its error is recorded only when none are left. */
  retries?: number;
  /** Delay between step retries (default 0). */
  retryDelay?: Duration;
  /** Time limit of one try of the step. */
  timeout?: Duration;
}

/** One condition of `ctx.waitFor`; an array is an all-of group. */
export type WaitCondition =
  | { sleep: Duration }
  | { event: string; filter?: Record<string, unknown> }
  | readonly ({ sleep: Duration } | { event: string; filter?: Record<string, unknown> })[];

/** Which condition of `ctx.waitFor` fired: its index, its kind, and the event it consumed. */
export interface WaitResult {
  index: number;
  kind: 'sleep' | 'event';
  event?: EventRecord;
  /** Every consumed event, for an all-of group with several events. */
  events?: EventRecord[];
}

function normalizeCondition(condition: WaitCondition, index: number): WaitGroup {
  const atoms = Array.isArray(condition) ? condition : [condition];
  if (atoms.length === 0) throw new TypeError(`waitFor condition ${index} is an empty group`);
  return atoms.map((atom: unknown) => {
    if (atom && typeof atom === 'object' && 'sleep' in atom) {
      return { sleep: parseDuration((atom as { sleep: Duration }).sleep, `waitFor condition ${index} sleep`) };
    }
    if (atom && typeof atom === 'object' && 'event' in atom && typeof (atom as { event: unknown }).event === 'string') {
      const { event, filter } = atom as { event: string; filter?: Record<string, unknown> };
      // An event key outside the name rules could never be pushed: the run would wait forever.
      const problem = is.name(event, `waitFor condition ${index} event`);
      if (problem) throw new TypeError(problem);
      return filter === undefined ? { event } : { event, filter };
    }
    throw new TypeError(`waitFor condition ${index} must be { sleep }, { event, filter? } or an array of them`);
  });
}

/** What `ctx.runChild` needs of a task: its name and `enqueue`. */
export interface ChildTask<Input, Output> {
  readonly name: string;
  readonly __output?: Output;
  enqueue(input: Input, options?: ChildRunOptions & { idempotencyKey?: string }): Promise<{ readonly id: string }>;
}

export interface ChildRunOptions {
  tags?: Record<string, string>;
  priority?: number;
}

const stepScope = new AsyncLocalStorage<{ key: string; name: string; n: number }>();

export class DurableContext<Input = unknown, Lifespan = unknown> extends TaskContext<Input, Lifespan> {
  readonly #durable: DurableControl;
  readonly #bySeq: Map<number, StepRecord>;
  readonly #byKey: Map<string, StepRecord>;
  readonly #lastRecordedSeq: number;
  readonly #counters = new Map<string, number>();
  #seq = 0;

  constructor(data: TaskContextData<Input, Lifespan>, control: AttemptControl, durable: DurableControl) {
    super(data, control);
    this.#durable = durable;
    this.#bySeq = new Map(durable.recorded.map((r) => [r.seq, r]));
    this.#byKey = new Map(durable.recorded.map((r) => [r.key, r]));
    this.#lastRecordedSeq = Math.max(-1, ...durable.recorded.map((r) => r.seq));
  }

  /**
   * `taskRunId:stepName` of the step being run (`taskRunId:name#n` from its second call on):
   * the same on every re-run of that step, for calls to outside systems.
   */
  get idempotencyKey(): string {
    const step = stepScope.getStore();
    if (!step) throw new Error('ctx.idempotencyKey is only defined inside ctx.step()');
    return step.n === 1 ? `${this.taskRunId}:${step.name}` : `${this.taskRunId}:${step.key}`;
  }

  /** Whether the code is still replaying recorded steps (logs outside steps are suppressed then). */
  get isReplaying(): boolean {
    return this.#seq <= this.#lastRecordedSeq;
  }

  override log(line: unknown, fields?: Record<string, unknown>, options?: Parameters<TaskContext['log']>[2]): Promise<void> {
    // What was logged the first time is not logged again while replaying.
    if (this.isReplaying && !stepScope.getStore()) return Promise.resolve();
    return super.log(line, fields, options);
  }

  /** Runs `fn` once and records its result (or its final error); a re-execution returns the record. */
  async step<T>(name: string, fn: () => T | Promise<T>, options: StepOptions = {}): Promise<Awaited<T>> {
    this.#checkStepName(name);
    const { key, seq, n } = this.#next(name);
    const recorded = this.#check(key, seq, 'step');
    if (recorded) {
      if (recorded.error) throw deserializeError(recorded.error);
      return deserialize(recorded.output) as Awaited<T>;
    }
    const retries = options.retries ?? 0;
    const delay = options.retryDelay === undefined ? 0 : parseDuration(options.retryDelay, 'retryDelay');
    const timeout = options.timeout === undefined ? undefined : parseDuration(options.timeout, 'timeout');
    // A recorded step returned above without a span: only executions are traced.
    return inSpan<Awaited<T>>(
      `baton.step ${name}`,
      SpanKind.INTERNAL,
      this.#stepAttributes(key),
      async (span): Promise<Awaited<T>> => {
        for (let attempt = 0; ; attempt++) {
          let output: string | null;
          let value: unknown;
          try {
            value = await stepScope.run({ key, name, n }, () => this.#withTimeout(fn, timeout, name));
            output = serializeWithLimit(value, `output of step "${name}"`, this.#durable.outputLimit) ?? null;
          } catch (thrown) {
            const error = toError(thrown);
            if (this.signal.aborted) throw error;
            const isFinal = error.name === 'SerializationError' || error.name === 'PayloadTooLargeError';
            if (attempt < retries && !isFinal) {
              if (span.isRecording())
                span.addEvent('baton.step.retry', { 'baton.step.try': attempt, 'exception.message': error.message });
              await this.#durable.sleep(delay, this.signal);
              continue;
            }
            // Only a step's final error is recorded; retryable failures are not memoised.
            await this.#durable.record({
              key,
              seq,
              kind: 'step',
              output: null,
              error: redactError(serializeError(error), currentScope().values),
            });
            throw error;
          }
          await this.#durable.record({ key, seq, kind: 'step', output, error: null });
          return value as Awaited<T>;
        }
      },
    );
  }

  #stepAttributes(key: string): Record<string, string | number> {
    return {
      [SPAN_ATTRIBUTES.step]: key,
      [SPAN_ATTRIBUTES.runId]: this.taskRunId,
      [SPAN_ATTRIBUTES.task]: this.taskName,
      [SPAN_ATTRIBUTES.attempt]: this.attempt,
      [SPAN_ATTRIBUTES.workflowRunId]: this.workflowRunId,
    };
  }

  /**
   * A step whose writes through Baton's own database connection (`tx.query(sql,
   * params)`) commit in the same transaction as its record: exactly once. A
   * re-execution returns the record; a crash before COMMIT rolls everything back
   * and the step runs again. Keep it short: it holds the run's row lock.
   */
  async transaction<T>(name: string, fn: (tx: DurableTransaction) => Promise<T>): Promise<Awaited<T>> {
    this.#checkStepName(name);
    const { key, seq, n } = this.#next(name);
    const recorded = this.#check(key, seq, 'step');
    if (recorded) {
      if (recorded.error) throw deserializeError(recorded.error);
      return deserialize(recorded.output) as Awaited<T>;
    }
    let result: Awaited<ReturnType<DurableControl['transaction']>>;
    try {
      result = await inSpan(`baton.transaction ${name}`, SpanKind.INTERNAL, this.#stepAttributes(key), () =>
        this.#durable.transaction(
          { key, seq },
          (tx) => stepScope.run({ key, name, n }, () => fn(tx)),
          (value) => serializeWithLimit(value, `output of transaction "${name}"`, this.#durable.outputLimit) ?? null,
        ),
      );
    } catch (thrown) {
      const error = toError(thrown);
      if (!this.signal.aborted) {
        await this.#durable.record({
          key,
          seq,
          kind: 'step',
          output: null,
          error: redactError(serializeError(error), currentScope().values),
        });
      }
      throw error;
    }
    if (result.outcome === 'fenced') throw new LeaseLostError(this.taskRunId);
    if (result.outcome === 'exists') {
      if (result.record.error) throw deserializeError(result.record.error);
      return deserialize(result.record.output) as Awaited<T>;
    }
    return result.value as Awaited<T>;
  }

  /**
   * Versioning for code that changes under runs in flight: true for runs that reach this
   * point after the change (it is recorded), false for runs whose record was made by the
   * old code before this point, so they replay the old path.
   *
   * @example if (ctx.patched('charge-in-cents')) await ctx.step('charge-v2', …); else await ctx.step('charge', …);
   */
  patched(id: string): boolean {
    if (typeof id !== 'string' || id.length === 0 || id.includes('#')) {
      throw new TypeError(`patch id must be a non-empty string without '#', got ${JSON.stringify(id)}`);
    }
    const name = `$patch:${id}`;
    const n = (this.#counters.get(name) ?? 0) + 1;
    const key = `${name}#${n}`;
    const atSeq = this.#bySeq.get(this.#seq);
    if (atSeq?.key === key) {
      this.#counters.set(name, n);
      this.#seq++;
      return true;
    }
    // Recorded by the old code at this point (or beyond it): take the old path, record nothing.
    if (this.isReplaying) return false;
    this.#counters.set(name, n);
    const seq = this.#seq++;
    this.#durable.recordLater({ key, seq, kind: 'now', output: 'true', error: null });
    return true;
  }

  /**
   * A recorded child run: it is enqueued once (a re-execution finds the same child),
   * and while this run awaits it, this run is Waiting and holds no slot; it resumes
   * when the child ends. Resolves with the child's output; rejects with RunFailedError
   * when the child did not complete.
   */
  async runChild<ChildInput, ChildOutput>(
    task: ChildTask<ChildInput, ChildOutput>,
    input: ChildInput,
    options: ChildRunOptions = {},
  ): Promise<ChildOutput> {
    if (stepScope.getStore()) throw new TypeError('ctx.runChild() cannot be called inside a step');
    const { key, seq } = this.#next(`$child:${task.name}`);
    const recorded = this.#check(key, seq, 'child');
    let childId: string;
    if (recorded) {
      childId = deserialize(recorded.output) as string;
    } else {
      // The idempotency key makes a re-execution that crashed before the record find the same child.
      const handle = await task.enqueue(input, { ...options, idempotencyKey: `${this.taskRunId}:${key}` });
      childId = handle.id;
      await this.#durable.record({ key, seq, kind: 'child', output: JSON.stringify(childId), error: null });
    }
    const result = await this.#durable.runResult(childId);
    if (!result.ended) {
      return this.#durable.suspend(null, `waiting for child run ${childId} (${task.name})`, { runId: childId });
    }
    if ('error' in result) throw result.error;
    return result.output as ChildOutput;
  }

  /**
   * Durable wait for the first of several conditions: `{ sleep: duration }`, `{ event: key,
   * filter? }`, or an array of them (all must be met). While waiting the run holds no slot
   * and no memory. An event counts when it was pushed after the run started and was not
   * consumed by an earlier wait of this run; each event satisfies one wait.
   */
  async waitFor(signalKey: string, ...conditions: WaitCondition[]): Promise<WaitResult> {
    if (typeof signalKey !== 'string' || signalKey.length === 0 || signalKey.includes('#')) {
      throw new TypeError(`waitFor signal key must be a non-empty string without '#', got ${JSON.stringify(signalKey)}`);
    }
    if (stepScope.getStore()) throw new TypeError('ctx.waitFor() cannot be called inside a step');
    if (conditions.length === 0) throw new TypeError('ctx.waitFor() needs at least one condition');
    const groups = conditions.map((c, i) => normalizeCondition(c, i));
    const start = this.#next(`$waitstart:${signalKey}`);
    const recordedStart = this.#check(start.key, start.seq, 'now');
    const startedAt = recordedStart ? (deserialize(recordedStart.output) as number) : this.#durable.now();
    if (!recordedStart) {
      this.#durable.recordLater({ key: start.key, seq: start.seq, kind: 'now', output: JSON.stringify(startedAt), error: null });
    }
    const { key, seq } = this.#next(`$wait:${signalKey}`);
    const recorded = this.#check(key, seq, 'wait');
    if (recorded) return deserialize(recorded.output) as WaitResult;
    const eventKeys = [...new Set(groups.flatMap((g) => g.flatMap((a) => ('event' in a ? [a.event] : []))))];
    const since = this.#durable.runStartedAt;
    const events = eventKeys.length > 0 ? await this.#durable.findEvents(eventKeys, since) : [];
    const now = this.#durable.now();
    const winner = chooseWinner(
      groups,
      startedAt,
      now,
      events.map((e) => ({ id: e.id, key: e.key, payload: e.payload, time: e.time.getTime() })),
    );
    if (winner) {
      const chosen = winner.events.map((w) => events.find((e) => e.id === w.id) as EventRecord);
      const result: WaitResult = {
        index: winner.index,
        kind: winner.kind,
        ...(chosen.length > 0 ? { event: chosen[chosen.length - 1] } : {}),
      };
      if (chosen.length > 1) result.events = chosen;
      const output = serializeWithLimit(result, `result of waitFor("${signalKey}")`, 0) ?? null;
      await this.#durable.resolveWait(
        { key, seq, kind: 'wait', output, error: null },
        chosen.map((e) => e.id),
      );
      return result;
    }
    const wakeAt = nextSleepDeadline(groups, startedAt, now);
    const what = [
      eventKeys.length > 0 ? `event ${eventKeys.map((k) => `"${k}"`).join(' or ')}` : '',
      wakeAt ? `until ${new Date(wakeAt).toISOString()}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    return this.#durable.suspend(wakeAt, `waiting for signal "${signalKey}" (${what})`, {
      ...(eventKeys.length > 0 ? { events: { keys: eventKeys, since, seenEventIds: events.map((e) => e.id) } } : {}),
    });
  }

  /**
   * Durable sleep: the run is dropped from this worker (no slot, no memory) and resumed
   * on any worker once `duration` has passed on the clock; survives restarts.
   */
  async sleepFor(duration: Duration): Promise<void> {
    const ms = parseDuration(duration, 'sleepFor duration');
    if (stepScope.getStore()) throw new TypeError('ctx.sleepFor() cannot be called inside a step');
    const { key, seq } = this.#next('$sleep');
    const recorded = this.#check(key, seq, 'sleep');
    let wakeAt: number;
    if (recorded) {
      wakeAt = deserialize(recorded.output) as number;
    } else {
      wakeAt = this.#durable.now() + ms;
      await this.#durable.record({ key, seq, kind: 'sleep', output: JSON.stringify(wakeAt), error: null });
    }
    if (this.#durable.now() >= wakeAt) return;
    await this.#durable.suspend(wakeAt, `sleeping until ${new Date(wakeAt).toISOString()}`);
  }

  /**
   * The time, recorded: a re-execution sees the same value. Inside a step it is not
   * recorded on its own (the step's result is what is recorded).
   */
  now(): Date {
    if (stepScope.getStore()) return new Date(this.#durable.now());
    const { key, seq } = this.#next('$now');
    const recorded = this.#check(key, seq, 'now');
    if (recorded) return deserialize(recorded.output) as Date;
    const value = new Date(this.#durable.now());
    this.#durable.recordLater({ key, seq, kind: 'now', output: serializeWithLimit(value, 'now()', 0) ?? null, error: null });
    return value;
  }

  /** A random UUID, recorded: a re-execution sees the same value. */
  randomUUID(): string {
    if (stepScope.getStore()) return randomUUID();
    const { key, seq } = this.#next('$uuid');
    const recorded = this.#check(key, seq, 'uuid');
    if (recorded) return deserialize(recorded.output) as string;
    const value = randomUUID();
    this.#durable.recordLater({ key, seq, kind: 'uuid', output: JSON.stringify(value), error: null });
    return value;
  }

  #checkStepName(name: string): void {
    if (typeof name !== 'string' || name.length === 0 || name.includes('#') || name.startsWith('$')) {
      throw new TypeError(
        `step name must be a non-empty string without '#' that does not start with '$', got ${JSON.stringify(name)}`,
      );
    }
    const outer = stepScope.getStore();
    if (outer) {
      throw new TypeError(
        `ctx.step("${name}") was called inside step "${outer.key}": steps cannot be nested; call it after the step`,
      );
    }
  }

  #next(name: string): { key: string; seq: number; n: number } {
    const n = (this.#counters.get(name) ?? 0) + 1;
    this.#counters.set(name, n);
    return { key: `${name}#${n}`, seq: this.#seq++, n };
  }

  /** The record for this call, if any, after checking the code asks for what was recorded at this point. */
  #check(key: string, seq: number, kind: StepRecord['kind']): StepRecord | undefined {
    const atSeq = this.#bySeq.get(seq);
    if (atSeq && atSeq.key !== key) {
      throw new NonDeterminismError(
        `run ${this.taskRunId} is not deterministic: call ${seq + 1} asks for ${describe(key)} but the record has ${describe(atSeq.key)} there; ` +
          'durable code must ask for the same steps in the same order on every execution (use ctx.patched() for changed code)',
        key,
      );
    }
    const recorded = this.#byKey.get(key);
    if (recorded && recorded.seq !== seq) {
      throw new NonDeterminismError(
        `run ${this.taskRunId} is not deterministic: ${describe(key)} was recorded as call ${recorded.seq + 1}, now it is call ${seq + 1}`,
        key,
      );
    }
    if (recorded && recorded.kind !== kind) {
      throw new NonDeterminismError(
        `run ${this.taskRunId}: ${describe(key)} was recorded as a ${recorded.kind}, now asked for as a ${kind}`,
        key,
      );
    }
    return recorded;
  }

  async #withTimeout<T>(fn: () => T | Promise<T>, timeoutMs: number | undefined, name: string): Promise<T> {
    if (timeoutMs === undefined) return fn();
    const controller = new AbortController();
    const timer = this.#durable.sleep(timeoutMs, controller.signal).then(
      () => {
        throw new Error(`step "${name}" ran past its timeout of ${timeoutMs} ms`);
      },
      () => undefined as never,
    );
    try {
      return await Promise.race([Promise.resolve().then(fn), timer]);
    } finally {
      controller.abort();
    }
  }
}

function describe(key: string): string {
  if (key.startsWith('$patch:')) return `ctx.patched(${key.slice(7).replace(/#\d+$/, '')})`;
  if (key.startsWith('$now#')) return 'ctx.now()';
  if (key.startsWith('$sleep#')) return 'ctx.sleepFor()';
  if (key.startsWith('$child:')) return `ctx.runChild(${key.slice(7).replace(/#\d+$/, '')})`;
  if (key.startsWith('$uuid#')) return 'ctx.randomUUID()';
  return `step "${key}"`;
}
