/**
 * One attempt of one run on this worker: builds its context, runs the handler
 * inside its ambient scope, enforces its deadline, reacts to cancellation and
 * to a lost lease, and settles it exactly once (complete, retry, fail, cancel or
 * release). Every write carries the claim's lease epoch.
 */
import { join } from 'node:path';
import type { Context as OtelContext, Span } from '@opentelemetry/api';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { runInAttemptScope } from '../context/ambient.js';
import type { AttemptFrame, ContextValueEntry } from '../context/ambient-store.js';
import { baggageEntries, decodeContextValues, redactError } from '../context/context-values.js';
import { DurableContext } from '../context/durable-context.js';
import { makeSerializable } from '../context/serialized-context.js';
import {
  type AttemptControl,
  type Cancellation,
  TaskContext,
  type TaskContextData,
  type UpstreamResults,
  type WorkerInfo,
} from '../context/task-context.js';
import {
  fromCarrier,
  recordError,
  SPAN_ATTRIBUTES,
  SpanKind,
  startSpan,
  traceLogFields,
  withBaggageEntries,
  withOtelContext,
} from '../context/tracing.js';
import { CACHE_WAIT_POLL_MS } from '../engine/cache.js';
import { FAILED_TASK_STATES } from '../engine/dag.js';
import type { PayloadLimits } from '../engine/limits.js';
import { decideAfterFailure, retryDelayMs } from '../engine/retry-policy.js';
import { validateWith } from '../engine/schema.js';
import { deserialize, serializeWithLimit } from '../engine/serializer.js';
import { isTerminal } from '../engine/states.js';
import type { LogLevel, StateName } from '../engine/types.js';
import {
  CancelledError,
  LeaseLostError,
  NonDeterminismError,
  NonRetryableError,
  PayloadTooLargeError,
  SerializationError,
  serializeError,
  TaskRunTimeoutError,
  toError,
  ValidationError,
  WorkerStoppingError,
} from '../errors.js';
import { bindLogger, type Logger } from '../logger.js';
import type { Notifier } from '../store/notifier.js';
import type { LeaseRef, RunRow, Settlement, Store } from '../store/types.js';
import { checkCache } from './attempt-cache.js';
import { DurableSteps, type SuspendWaitFor } from './durable-steps.js';
import type { StepQueue } from './step-queue.js';
import type { TaskDefinition } from './task-definition.js';
import type { WriteQueue } from './write-queue.js';

export interface AttemptHost {
  readonly store: Store;
  readonly clock: Clock;
  readonly namespace: string;
  readonly logger: Logger;
  readonly writes: WriteQueue;
  /** Step records of durable attempts, batched across attempts. */
  readonly steps: StepQueue;
  readonly notifier: Notifier;
  readonly workerInfo: WorkerInfo;
  readonly lifespan: unknown;
  readonly limits: PayloadLimits;
  readonly rawDataRoot: string;
  /** Signs serialized contexts. */
  readonly secret: Buffer;
  /** Called once when the attempt stops holding its slot. */
  slotFreed(attempt: Attempt): void;
  /** Called (before slotFreed) when a finished handler's slot goes to the next run while its result is stored. */
  resultPending(attempt: Attempt): void;
  /** Called once when the attempt has ended and settled (or was abandoned). */
  attemptEnded(attempt: Attempt): void;
}

type Ending =
  | { kind: 'returned'; value: unknown }
  | { kind: 'threw'; error: unknown }
  | { kind: 'timeout' }
  | { kind: 'abandon-cancelled' }
  | { kind: 'lease-lost' }
  | { kind: 'release' }
  | { kind: 'skipped' }
  | { kind: 'suspend'; wakeAt: number | null; message: string; waitFor?: SuspendWaitFor }
  | { kind: 'cached'; output: string | null; sourceRunId: string }
  | { kind: 'cache-wait'; runId: string };

export class Attempt implements AttemptControl {
  readonly run: RunRow;
  readonly def: TaskDefinition;
  readonly lease: LeaseRef;
  readonly #host: AttemptHost;
  readonly #controller = new AbortController();
  readonly #frame: { context: TaskContext; closed: boolean; otel?: OtelContext };
  /** The attempt's span (a no-op span without an OpenTelemetry SDK). */
  #span: Span | undefined;
  /** The run's typed context values, restored from the store. */
  #values: ReadonlyMap<string, ContextValueEntry> | undefined;
  #logger: Logger | undefined;
  #context: TaskContext | undefined;
  #isEnded = false;
  #holdsSlot = true;
  #deadline: number | undefined;
  #timeoutTimer: TimerHandle | undefined;
  #graceTimer: TimerHandle | undefined;
  #cancellation: Cancellation | undefined;
  #handlerSettled = false;
  #durable: DurableSteps | undefined;
  /** The cache key this attempt computes (its output is recorded under it). */
  #cacheKey: string | undefined;
  /** Resolves when the attempt has ended and its settlement was written. */
  readonly finished: Promise<void>;
  #finish!: () => void;

  constructor(run: RunRow, def: TaskDefinition, host: AttemptHost) {
    this.run = run;
    this.def = def;
    this.lease = { runId: run.id, epoch: run.leaseEpoch };
    this.#host = host;
    this.#frame = { context: undefined as unknown as TaskContext, closed: false };
    this.finished = new Promise((resolve) => {
      this.#finish = resolve;
    });
  }

  get isClosed(): boolean {
    return this.#frame.closed;
  }

  get isEnded(): boolean {
    return this.#isEnded;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get deadline(): Date | undefined {
    return this.#deadline === undefined ? undefined : new Date(this.#deadline);
  }

  get cancellation(): Cancellation | undefined {
    return this.#cancellation;
  }

  /** Runs the attempt to its end. Never throws. */
  async execute(): Promise<void> {
    this.#startTrace();
    try {
      const input = await validateWith(this.def.inputSchema, deserialize(this.run.input), `input of task "${this.def.name}"`);
      const upstream = await this.#loadUpstream();
      this.#durable = this.def.isDurable ? await this.#loadDurable() : undefined;
      this.#context = this.#buildContext(input, upstream);
      this.#frame.context = this.#context;
      makeSerializable(this.#context, {
        namespace: this.#host.namespace,
        leaseEpoch: this.lease.epoch,
        origin: this.run.trigger,
        runCustomContext: this.run.customContext,
        secret: this.#host.secret,
      });
      this.#armTimeout();
      const skipIf = this.def.workflow?.skipIf;
      if (skipIf && (await skipIf(this.#ctx()))) {
        await this.#end({ kind: 'skipped' });
        return;
      }
      if (await this.#consultCache(input)) return;
      await this.#hook('onRunning', () => this.def.hooks.onRunning?.(this.#ctx()));
      if (this.#isEnded) return;
      const frame = this.#frame as AttemptFrame;
      const result = await withOtelContext(frame.otel as OtelContext, () =>
        runInAttemptScope(frame, this.run.customContext, () => this.#invoke(input), this.#values ?? NO_VALUES),
      );
      this.#handlerSettled = true;
      await this.#end({ kind: 'returned', value: result });
    } catch (error) {
      this.#handlerSettled = true;
      await this.#end({ kind: 'threw', error });
    }
  }

  /** A hit ends the run Cached; a run computing the same key makes this one wait. True when the attempt ended. */
  async #consultCache(input: unknown): Promise<boolean> {
    const check = await checkCache(this.def, this.run, input, this.#ctx(), this.#host.store, this.lease);
    if (!check) return false;
    if (check.verdict === null) {
      await this.#end({ kind: 'lease-lost' });
      return true;
    }
    const verdict = check.verdict;
    if (verdict.kind === 'hit') {
      await this.#end({ kind: 'cached', output: verdict.output, sourceRunId: verdict.runId });
      return true;
    }
    if (verdict.kind === 'wait') {
      await this.#end({ kind: 'cache-wait', runId: verdict.runId });
      return true;
    }
    this.#cacheKey = check.key;
    return false;
  }

  async #invoke(input: unknown): Promise<unknown> {
    const fn = this.def.fn as (input: unknown, ctx: TaskContext) => unknown;
    const returned = await fn(input, this.#ctx());
    if (!isAsyncGenerator(returned)) return returned;
    // A generator task streams each yielded value; its output is its return value or the yields.
    const yielded: unknown[] = [];
    for (;;) {
      const step = await returned.next();
      if (step.done) return step.value === undefined ? yielded : step.value;
      yielded.push(step.value);
      if (!this.#frame.closed) await this.putStream(step.value);
    }
  }

  #ctx(): TaskContext {
    if (!this.#context) throw new Error('attempt context used before it was built');
    return this.#context;
  }

  /** Outputs of a DAG task's parents and the errors of failed tasks of its workflow run. */
  async #loadUpstream(): Promise<UpstreamResults> {
    const workflow = this.def.workflow;
    if (!workflow) return { outputs: new Map(), errors: {} };
    const rows = await this.#host.store.listWorkflowTasks(this.#host.namespace, this.run.workflowRunId);
    const outputs = new Map<string, { skipped: boolean; output: unknown }>();
    const errors: Record<string, string> = {};
    for (const row of rows) {
      if (workflow.parents.includes(row.taskName)) {
        outputs.set(row.taskName, { skipped: row.status === 'Skipped', output: deserialize(row.output) });
      }
      if (FAILED_TASK_STATES.includes(row.status) && row.error) errors[row.taskName] = row.error.message;
    }
    return { outputs, errors };
  }

  async #loadDurable(): Promise<DurableSteps> {
    const recorded = await this.#host.store.loadSteps(this.run.id);
    return new DurableSteps(
      this.#host,
      this.lease,
      this.run.attempt,
      recorded,
      (wakeAt, message, waitFor) => {
        void this.#end({ kind: 'suspend', wakeAt, message, ...(waitFor ? { waitFor } : {}) });
      },
      this.run.startedAt ?? this.#host.clock.now(),
    );
  }

  #buildContext(input: unknown, upstream: UpstreamResults): TaskContext {
    const run = this.run;
    const data: TaskContextData<unknown, unknown> = {
      taskRunId: run.id,
      workflowRunId: run.workflowRunId,
      workflowId: this.def.workflowId,
      workflowVersionId: this.def.workflow ? this.def.workflow.versionId() : this.def.version,
      workflowName: run.workflowName,
      taskName: run.taskName,
      attempt: run.attempt,
      tags: run.tags,
      additionalMetadata: run.metadata,
      priority: run.priority,
      input,
      workflowInput: input,
      parentWorkflowRunId: run.parentWorkflowRunId ?? undefined,
      origin: run.trigger,
      lifespan: this.#host.lifespan,
      customContext: run.customContext,
      rawDataPath: join(this.#host.rawDataRoot, run.id),
      worker: this.#host.workerInfo,
      upstream,
      ...(this.#values ? { contextValues: this.#values } : {}),
    };
    if (this.#durable) return new DurableContext(data, this, this.#durable);
    return new TaskContext(data, this);
  }

  #armTimeout(): void {
    if (this.def.timeoutMs === undefined) return;
    this.#setDeadline(this.#host.clock.now() + this.def.timeoutMs);
  }

  #setDeadline(at: number): void {
    this.#deadline = at;
    this.#timeoutTimer?.cancel();
    this.#timeoutTimer = this.#host.clock.setTimeout(() => {
      void this.#end({ kind: 'timeout' });
    }, at - this.#host.clock.now());
  }

  // ── operations (AttemptControl) ───────────────────────────────────────────

  log(level: LogLevel, message: string, fields: Record<string, unknown> | null): Promise<void> {
    if (this.#frame.closed) {
      this.#log()[level]({ ...(fields ?? {}) }, message);
      return Promise.resolve();
    }
    // With debug logging on, the worker's own log shows task lines too, bound to the run.
    if (this.#host.logger.isLevelEnabled?.('debug')) this.#log()[level]({ ...(fields ?? {}) }, message);
    return this.#host.writes.log({
      runId: this.run.id,
      epoch: this.lease.epoch,
      attempt: this.run.attempt,
      time: this.#host.clock.now(),
      level,
      message,
      fields,
    });
  }

  async cancel(reason: string): Promise<void> {
    await this.#host.store.requestCancel(this.#host.namespace, this.run.id, reason);
    this.#host.notifier.runChanged(this.run.id);
    this.requestCancellation(reason, this.#host.clock.now());
  }

  refreshTimeout(ms: number): void {
    if (this.#deadline === undefined) return;
    const next = this.#host.clock.now() + ms;
    if (next <= this.#deadline) return;
    this.#setDeadline(next);
    this.#host.store.setDeadline(this.lease, next).catch((error: unknown) => {
      this.#log().warn({ err: error }, 'could not store the refreshed deadline');
    });
  }

  releaseSlot(): void {
    if (!this.#holdsSlot) return;
    this.#holdsSlot = false;
    this.#host.slotFreed(this);
  }

  async saveCheckpoint(data: unknown): Promise<void> {
    const text = serializeWithLimit(data, 'checkpoint', this.#host.limits.output) ?? 'null';
    if (!(await this.#host.store.saveCheckpoint(this.lease, text))) throw new LeaseLostError(this.run.id);
  }

  async loadCheckpoint(): Promise<unknown> {
    return deserialize(await this.#host.store.loadCheckpoint(this.run.id));
  }

  async progress(fraction: number, message: string | undefined): Promise<void> {
    if (!(await this.#host.store.setProgress(this.lease, fraction, message ?? null))) throw new LeaseLostError(this.run.id);
    this.#host.notifier.runChanged(this.run.id);
  }

  async putStream(data: unknown): Promise<void> {
    const text = serializeWithLimit(data, 'stream chunk', this.#host.limits.streamChunk) ?? 'null';
    if ((await this.#host.store.appendStream(this.lease, text)) === null) throw new LeaseLostError(this.run.id);
    this.#host.notifier.runChanged(this.run.id);
  }

  // ── signals from the worker ───────────────────────────────────────────────

  /** Cancellation was requested: abort the signal and give the handler its grace period. */
  requestCancellation(reason: string, requestedAt: number): void {
    if (this.#isEnded || this.#cancellation) return;
    const deadline = requestedAt + this.run.cancelGraceMs;
    this.#cancellation = { reason, requestedAt: new Date(requestedAt), deadline: new Date(deadline) };
    this.#controller.abort(new CancelledError(reason));
    this.#graceTimer = this.#host.clock.setTimeout(() => {
      void this.#end({ kind: 'abandon-cancelled' });
    }, deadline - this.#host.clock.now());
  }

  /** Another worker took the run over: stop and write nothing. */
  loseLease(): void {
    void this.#end({ kind: 'lease-lost' });
  }

  /** The worker is stopping past its deadline: abort and give the run back to the queue. */
  release(): Promise<void> {
    return this.#end({ kind: 'release' });
  }

  // ── ending ────────────────────────────────────────────────────────────────

  async #end(ending: Ending): Promise<void> {
    if (this.#isEnded) {
      // A handler deaf to its signal finished after its attempt was settled without it: say so.
      if (ending.kind === 'returned') {
        this.#log().warn(
          { epoch: this.lease.epoch },
          'the handler returned after its attempt had ended (timed out, abandoned after cancellation, released or lease lost); its result is discarded',
        );
      }
      return;
    }
    this.#isEnded = true;
    this.#timeoutTimer?.cancel();
    this.#graceTimer?.cancel();
    try {
      if (ending.kind === 'lease-lost') {
        this.#controller.abort(new LeaseLostError(this.run.id));
        if (this.#span) recordError(this.#span, new LeaseLostError(this.run.id));
        this.#log().warn({ epoch: this.lease.epoch }, 'lease lost; attempt abandoned');
        return;
      }
      if (ending.kind === 'timeout') {
        this.#controller.abort(new TaskRunTimeoutError(this.#timeoutMessage()));
      } else if (ending.kind === 'release') {
        this.#controller.abort(new WorkerStoppingError(this.#host.workerInfo.name));
      }
      await this.#settleFor(ending);
    } catch (error) {
      if (this.#span) recordError(this.#span, error);
      this.#log().error({ err: error }, 'attempt could not be settled; its lease will expire');
    } finally {
      this.#close();
    }
  }

  #timeoutMessage(): string {
    return `attempt ${this.run.attempt} of task "${this.def.name}" (run ${this.run.id}) ran past its timeout of ${this.def.timeoutMs} ms`;
  }

  async #settleFor(ending: Exclude<Ending, { kind: 'lease-lost' }>): Promise<void> {
    const base = { runId: this.run.id, epoch: this.lease.epoch };
    if (ending.kind === 'release') {
      await this.#write({ kind: 'release', ...base });
      return;
    }
    if (ending.kind === 'suspend' && !this.#cancellation) {
      await this.#write({
        kind: 'suspend',
        ...base,
        wakeAt: ending.wakeAt,
        waitingOn: {
          reason: 'durable-wait',
          message: ending.message,
          ...(ending.wakeAt === null ? {} : { until: ending.wakeAt }),
          ...(ending.waitFor?.runId ? { childRunId: ending.waitFor.runId } : {}),
        },
        ...(ending.waitFor?.runId ? { waitForRunId: ending.waitFor.runId } : {}),
        ...(ending.waitFor?.events ? { eventWait: ending.waitFor.events } : {}),
      });
      return;
    }
    if (ending.kind === 'cache-wait' && !this.#cancellation) {
      const wakeAt = this.#host.clock.now() + CACHE_WAIT_POLL_MS;
      await this.#write({
        kind: 'suspend',
        ...base,
        wakeAt,
        waitingOn: {
          reason: 'cache',
          runId: ending.runId,
          message: `waiting for run ${ending.runId}, which is computing the same cache key`,
        },
      });
      return;
    }
    if (ending.kind === 'cached' && !this.#cancellation) {
      const state = await this.#write({ kind: 'cached', ...base, output: ending.output, sourceRunId: ending.sourceRunId });
      if (state === 'Cached') {
        await this.#hook('onCompletion', () => this.def.hooks.onCompletion?.(this.#ctx(), deserialize(ending.output) as never));
      }
      return;
    }
    if (ending.kind === 'skipped' && !this.#cancellation) {
      await this.#write({ kind: 'skip', ...base, message: 'skipIf returned true' });
      return;
    }
    if (this.#cancellation || ending.kind === 'abandon-cancelled') {
      const reason = this.#cancellation?.reason ?? 'cancelled';
      const message =
        ending.kind === 'abandon-cancelled'
          ? `${reason} (the attempt did not stop within its grace period and was abandoned)`
          : reason;
      await this.#write({ kind: 'cancel', ...base, reason, message });
      return;
    }
    if (ending.kind === 'returned') {
      let output: string | null;
      let value: unknown;
      try {
        value = await validateWith(this.def.outputSchema, ending.value, `output of task "${this.def.name}"`);
        output = serializeWithLimit(value, `output of task "${this.def.name}"`, this.#host.limits.output) ?? null;
      } catch (error) {
        await this.#fail(toError(error), false);
        return;
      }
      const cache = this.#cacheKey === undefined ? undefined : this.#cacheEntry(this.#cacheKey);
      const state = await this.#write({ kind: 'complete', ...base, output, ...(cache ? { cache } : {}) });
      if (state === 'Completed')
        await this.#hook('onCompletion', () => this.def.hooks.onCompletion?.(this.#ctx(), value as never));
      return;
    }
    if (ending.kind === 'timeout') {
      await this.#fail(new TaskRunTimeoutError(this.#timeoutMessage()), true);
      return;
    }
    if (ending.kind === 'threw') await this.#fail(toError(ending.error), false);
  }

  #cacheEntry(key: string): NonNullable<Extract<Settlement, { kind: 'complete' }>['cache']> {
    const ttlMs = this.def.cache?.ttlMs;
    return {
      namespace: this.run.namespace,
      taskName: this.def.name,
      key,
      expiresAt: ttlMs === undefined ? null : this.#host.clock.now() + ttlMs,
    };
  }

  async #fail(error: Error, isTimeout: boolean): Promise<void> {
    const base = { runId: this.run.id, epoch: this.lease.epoch };
    const isNonRetryable =
      NonRetryableError.is(error) ||
      error instanceof ValidationError ||
      error instanceof SerializationError ||
      error instanceof PayloadTooLargeError ||
      error instanceof NonDeterminismError;
    let isRetryAllowed = true;
    if (!isNonRetryable && this.def.retryIf && this.run.attempt < this.def.retryPolicy.retries && this.#context) {
      try {
        isRetryAllowed = Boolean(await this.def.retryIf(error, this.#context as TaskContext<never>));
      } catch (retryIfError) {
        this.#log().warn({ err: retryIfError }, 'retryIf threw; not retrying');
        isRetryAllowed = false;
      }
    }
    const decision = decideAfterFailure({
      attempt: this.run.attempt,
      retries: this.def.retryPolicy.retries,
      isNonRetryable,
      isRetryAllowed,
      isTimeout,
    });
    // Stored and shown by the API: the run's redacted context values must not appear in it.
    const stored = redactError(serializeError(error), this.#values);
    // Spans leave for the tracing backend: they get the redacted text too.
    if (this.#span) recordError(this.#span, Object.assign(new Error(stored.message), { name: stored.name, stack: stored.stack }));
    if (decision.kind === 'retry') {
      const delayMs = retryDelayMs(this.def.retryPolicy, this.run.attempt, error, Math.random);
      await this.#hook('onRetry', () => this.def.hooks.onRetry?.(this.#ctx(), error, { attempt: decision.nextAttempt, delayMs }));
      await this.#write({ kind: 'retry', ...base, error: stored, delayMs, isTimeout });
      return;
    }
    const state = await this.#write({ kind: 'fail', ...base, error: stored, stateName: decision.stateName });
    if (state === 'Failed' || state === 'TimedOut')
      await this.#hook('onFailure', () => this.def.hooks.onFailure?.(this.#ctx(), error));
  }

  async #write(settlement: Settlement): Promise<StateName | null> {
    if (this.#handlerSettled && this.#holdsSlot) {
      // The handler is done: the next run may start while this result is stored (a commit away), so
      // claims and settlements overlap. The worker bounds how many results may be pending.
      this.#holdsSlot = false;
      this.#host.resultPending(this);
      this.#host.slotFreed(this);
    }
    await this.#durable?.flush().catch((error: unknown) => {
      this.#log().warn({ err: error }, 'could not record now()/randomUUID() values before settling');
    });
    const state = await this.#host.writes.settle(settlement);
    if (this.#span?.isRecording()) this.#span.setAttribute(SPAN_ATTRIBUTES.state, state ?? 'refused');
    if (state === 'Cancelled') {
      // A cancellation committed before this settlement wins, whatever the attempt reported.
      const reason = this.#cancellation?.reason ?? (settlement.kind === 'cancel' ? settlement.reason : 'cancelled');
      await this.#hook('onCancellation', () => this.def.hooks.onCancellation?.(this.#ctx(), reason));
    }
    if (state === null) {
      this.#log().warn({ epoch: this.lease.epoch }, 'attempt result refused: a newer claim holds the run');
    } else {
      this.#host.notifier.runChanged(this.run.id);
      if (state === 'AwaitingRetry' || state === 'Pending') this.#host.notifier.runsAvailable(this.#host.namespace);
      if (this.run.workflowRunId !== this.run.id && isTerminal(state)) {
        // Its workflow run may have moved on: tasks became runnable, or the run ended.
        this.#host.notifier.runChanged(this.run.workflowRunId);
        this.#host.notifier.runsAvailable(this.#host.namespace);
      }
    }
    return state;
  }

  async #hook(name: string, call: () => unknown): Promise<void> {
    if (!this.#context) return;
    try {
      await call();
    } catch (error) {
      this.#log().warn({ err: error, hook: name }, `task hook ${name} threw`);
    }
  }

  #close(): void {
    this.#frame.closed = true;
    if (!this.#controller.signal.aborted && !this.#handlerSettled) {
      this.#controller.abort(new Error('attempt ended'));
    }
    if (this.#holdsSlot) {
      this.#holdsSlot = false;
      this.#host.slotFreed(this);
    }
    this.#span?.end();
    this.#host.attemptEnded(this);
    this.#finish();
  }

  // ── tracing and logging ───────────────────────────────────────────────────

  /**
   * Starts the attempt's span, whose parent is the trace context stored at the enqueue,
   * and restores the run's typed context values (the non-redacted ones also as baggage).
   */
  #startTrace(): void {
    const run = this.run;
    const parent = fromCarrier(run.traceContext);
    const { span, ctx } = startSpan(
      `baton.run ${run.taskName}`,
      SpanKind.CONSUMER,
      {
        [SPAN_ATTRIBUTES.runId]: run.id,
        [SPAN_ATTRIBUTES.task]: run.taskName,
        [SPAN_ATTRIBUTES.attempt]: run.attempt,
        [SPAN_ATTRIBUTES.workflowRunId]: run.workflowRunId,
        [SPAN_ATTRIBUTES.workflow]: run.workflowName,
      },
      parent,
    );
    this.#span = span;
    this.#frame.otel = ctx;
    if (run.contextValues === null) return;
    try {
      const { values, unreadable } = decodeContextValues(run.contextValues, this.#host.secret);
      this.#values = values;
      this.#frame.otel = withBaggageEntries(ctx, baggageEntries(values));
      if (unreadable.length > 0) {
        this.#log().warn({ keys: unreadable }, 'redacted context values were sealed by another database; they are left out');
      }
    } catch (error) {
      this.#log().warn({ err: error }, 'the context values of the run could not be read; they are left out');
    }
  }

  /** The worker's logger bound to this attempt: runId, taskName, attempt, and trace_id/span_id when traced. */
  #log(): Logger {
    this.#logger ??= bindLogger(this.#host.logger, {
      runId: this.run.id,
      taskName: this.run.taskName,
      attempt: this.run.attempt,
      ...(this.#frame.otel ? traceLogFields(this.#frame.otel) : undefined),
    });
    return this.#logger;
  }
}

const NO_VALUES: ReadonlyMap<string, ContextValueEntry> = new Map();

function isAsyncGenerator(value: unknown): value is AsyncGenerator<unknown, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AsyncGenerator).next === 'function' &&
    typeof (value as AsyncGenerator)[Symbol.asyncIterator] === 'function'
  );
}
