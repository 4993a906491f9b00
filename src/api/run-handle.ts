/**
 * A handle on one run: its id and enqueue outcome, and the operations on it
 * (await the result, read states and logs, follow the stream, cancel, retry,
 * replay). Works for any run in the namespace, from any process.
 */

import { viewStoredValues } from '../context/context-values.js';
import { type Duration, parseDuration } from '../engine/duration.js';
import { deserialize } from '../engine/serializer.js';
import { isTerminal } from '../engine/states.js';
import type { EnqueueOutcome, LogEntry, State } from '../engine/types.js';
import { InvalidStateError, RunFailedError, RunNotFoundError } from '../errors.js';
import { newId } from '../ids.js';
import type { RunRow } from '../store/types.js';
import { buildWorkflowRows, insertWorkflowRuns } from './enqueue-workflow.js';
import { currentState, stateFromRow, toLogEntry, withLiveWaitingOn } from './run-state.js';
import type { BatonRuntime } from './runtime.js';

const MIN_POLL_MS = 10;
const MAX_POLL_MS = 500;

export interface AttemptInfo {
  attempt: number;
  epoch: number;
  workerId: string;
  startedAt: Date;
  endedAt: Date | undefined;
  outcome: string | undefined;
}

export class RunHandle<Output = unknown> {
  readonly id: string;
  /** What the enqueue did: `created`, or `deduplicated` when an idempotency key matched an earlier run. */
  readonly outcome: EnqueueOutcome;
  readonly #runtime: BatonRuntime;

  constructor(runtime: BatonRuntime, id: string, outcome: EnqueueOutcome = 'created') {
    this.#runtime = runtime;
    this.id = id;
    this.outcome = outcome;
  }

  /**
   * Waits for the run to end. Resolves with its output when it completed; rejects
   * with `RunFailedError` (carrying the stored failure) when it failed, timed out,
   * crashed or was cancelled. `timeout` bounds the wait (real time).
   */
  async result(options: { timeout?: Duration } = {}): Promise<Output> {
    const run = await this.#waitForEnd(options.timeout === undefined ? undefined : parseDuration(options.timeout, 'timeout'));
    if (run.status === 'Completed' || run.status === 'Cached' || run.status === 'Skipped') {
      return deserialize(run.output) as Output;
    }
    throw new RunFailedError(run.id, run.status, run.error ?? undefined);
  }

  /** The current state, with `waitingOn` saying why a run is not progressing. */
  async state(): Promise<State<Output>> {
    const store = await this.#runtime.store();
    const run = await this.#get();
    const states = await store.listStates(run.id);
    const state = currentState(run, states[states.length - 1]);
    return (await withLiveWaitingOn(store, run, state, await store.now())) as State<Output>;
  }

  /** Every state the run went through, oldest first. */
  async states(): Promise<State<Output>[]> {
    const store = await this.#runtime.store();
    const run = await this.#get();
    return (await store.listStates(run.id)).map((row) => stateFromRow(row, run) as State<Output>);
  }

  /** Log lines in write order. */
  async logs(): Promise<LogEntry[]> {
    const store = await this.#runtime.store();
    await this.#get();
    return (await store.listLogs(this.id)).map(toLogEntry);
  }

  /**
   * The run's typed context values (`defineContextKey`) by key name, as stored at its
   * enqueue; values of redacted keys read "[redacted]".
   */
  async contextValues(): Promise<Record<string, unknown>> {
    return viewStoredValues((await this.#get()).contextValues);
  }

  /** Every claim of the run: attempt number, lease epoch, worker, times, outcome. */
  async attempts(): Promise<AttemptInfo[]> {
    const store = await this.#runtime.store();
    await this.#get();
    return (await store.listAttempts(this.id)).map((a) => ({
      attempt: a.attempt,
      epoch: a.epoch,
      workerId: a.workerId,
      startedAt: new Date(a.startedAt),
      endedAt: a.endedAt === null ? undefined : new Date(a.endedAt),
      outcome: a.outcome ?? undefined,
    }));
  }

  /**
   * Requests cancellation: a queued run ends Cancelled at once; a running one turns
   * Cancelling, its `ctx.signal` aborts, and it ends Cancelled. Children are cancelled too.
   */
  async cancel(reason = 'cancelled'): Promise<void> {
    const store = await this.#runtime.store();
    const result = await store.requestCancel(this.#runtime.namespace, this.id, reason);
    if (!result) throw new RunNotFoundError(this.id);
    const notifier = await this.#runtime.notifier();
    for (const change of result.changed) {
      notifier.runChanged(change.id);
      if (change.status === 'Cancelling') notifier.cancelRequested(change.id);
    }
  }

  /** Gives a Failed, TimedOut, Crashed or Cancelled run a new attempt (same run id). */
  async retry(): Promise<RunHandle<Output>> {
    const store = await this.#runtime.store();
    const run = await this.#get();
    if (run.kind === 'workflow') {
      throw new InvalidStateError(
        `run ${run.id} is a workflow run: replay it (handle.replay()), or retry its failed task runs one by one`,
      );
    }
    await store.retryRun(this.#runtime.namespace, this.id);
    const notifier = await this.#runtime.notifier();
    notifier.runChanged(this.id);
    notifier.runsAvailable(this.#runtime.namespace);
    return this;
  }

  /** Starts a new run of the same task with the same input, tags and metadata. */
  async replay(): Promise<RunHandle<Output>> {
    const store = await this.#runtime.store();
    const source = await this.#get();
    if (source.kind === 'workflow') return this.#replayWorkflow(source);
    if (source.workflowRunId !== source.id) {
      throw new InvalidStateError(`run ${source.id} is a task of workflow run ${source.workflowRunId}; replay the workflow run`);
    }
    const id = newId(this.#runtime.clock.now());
    const [created] = await store.createRuns(this.#runtime.namespace, [
      {
        id,
        workflowRunId: id,
        workflowName: source.workflowName,
        taskName: source.taskName,
        parentRunId: null,
        parentWorkflowRunId: null,
        priority: source.priority,
        input: source.input,
        tags: source.tags,
        metadata: source.metadata,
        customContext: source.customContext,
        contextValues: source.contextValues,
        trigger: { kind: 'replay', sourceRunId: source.id },
        maxCrashes: source.maxCrashes,
        cancelGraceMs: source.cancelGraceMs,
      },
    ]);
    (await this.#runtime.notifier()).runsAvailable(this.#runtime.namespace);
    return new RunHandle<Output>(this.#runtime, created?.id ?? id, 'created');
  }

  /**
   * A new run of the same durable task with the same input, reusing this run's recorded
   * steps before `fromStep` (a step name — its first call — or `name#n`); `fromStep` and
   * everything after it run again. Its trigger is `{ kind: 'fork', sourceRunId, fromStep }`.
   */
  async fork(options: { fromStep: string }): Promise<RunHandle<Output>> {
    const store = await this.#runtime.store();
    const source = await this.#get();
    if (source.kind === 'workflow' || source.workflowRunId !== source.id) {
      throw new InvalidStateError(`run ${source.id} is not a standalone durable task run; only those can be forked`);
    }
    const steps = await store.loadSteps(source.id);
    const key = options.fromStep.includes('#') ? options.fromStep : `${options.fromStep}#1`;
    const from = steps.find((s) => s.key === key);
    if (!from) {
      const known = steps.filter((s) => s.kind === 'step').map((s) => s.key);
      throw new InvalidStateError(
        `run ${source.id} has no recorded step "${key}" to fork from (recorded: ${known.join(', ') || 'none'})`,
      );
    }
    const id = newId(this.#runtime.clock.now());
    await store.createRuns(this.#runtime.namespace, [
      {
        id,
        workflowRunId: id,
        workflowName: source.workflowName,
        taskName: source.taskName,
        queueKey: source.queueKey,
        parentRunId: null,
        parentWorkflowRunId: null,
        priority: source.priority,
        input: source.input,
        tags: source.tags,
        metadata: source.metadata,
        customContext: source.customContext,
        contextValues: source.contextValues,
        trigger: { kind: 'fork', sourceRunId: source.id, fromStep: key },
        maxCrashes: source.maxCrashes,
        cancelGraceMs: source.cancelGraceMs,
        copySteps: { fromRunId: source.id, beforeSeq: from.seq },
      },
    ]);
    (await this.#runtime.notifier()).runsAvailable(this.#runtime.namespace);
    return new RunHandle<Output>(this.#runtime, id, 'created');
  }

  /** The run's stream chunks, in order: those already written, then live ones until the run ends. */
  async *stream(): AsyncGenerator<unknown, void, void> {
    const store = await this.#runtime.store();
    const notifier = await this.#runtime.notifier();
    let seq = 0;
    let poll = MIN_POLL_MS;
    for (;;) {
      const chunks = await store.readStream(this.id, seq, 500);
      for (const chunk of chunks) {
        seq = chunk.seq;
        yield deserialize(chunk.data);
      }
      if (chunks.length > 0) {
        poll = MIN_POLL_MS;
        continue;
      }
      const run = await this.#get();
      if (isTerminal(run.status)) {
        const rest = await store.readStream(this.id, seq, 100_000);
        for (const chunk of rest) yield deserialize(chunk.data);
        return;
      }
      await waitForChange(notifier.onRunChanged.bind(notifier), this.id, poll);
      poll = Math.min(MAX_POLL_MS, poll * 2);
    }
  }

  async #replayWorkflow(source: RunRow): Promise<RunHandle<Output>> {
    const store = await this.#runtime.store();
    const dag = await store.getDag(this.#runtime.namespace, source.id);
    if (!dag) throw new InvalidStateError(`workflow run ${source.id} has no stored DAG to replay`);
    const rows = buildWorkflowRows(this.#runtime, {
      workflowName: source.workflowName,
      dag,
      input: source.input,
      tags: source.tags,
      metadata: source.metadata,
      customContext: source.customContext,
      contextValues: source.contextValues,
      trigger: { kind: 'replay', sourceRunId: source.id },
      parentRunId: null,
      parentWorkflowRunId: null,
      priority: undefined,
      timing: {},
    });
    const [created] = await insertWorkflowRuns(this.#runtime, [rows]);
    return new RunHandle<Output>(this.#runtime, created?.id ?? rows[0].id, 'created');
  }

  async #get(): Promise<RunRow> {
    const store = await this.#runtime.store();
    const run = await store.getRun(this.#runtime.namespace, this.id);
    if (!run) throw new RunNotFoundError(this.id);
    return run;
  }

  async #waitForEnd(timeoutMs: number | undefined): Promise<RunRow> {
    const run = await this.#get();
    if (isTerminal(run.status)) return run;
    return this.#runtime.waiter().wait(this.id, timeoutMs);
  }
}

/** Resolves when the run changes (this process's notifier) or after `ms`, whichever is first. */
export function waitForChange(
  subscribe: (runId: string, listener: () => void) => () => void,
  runId: string,
  ms: number,
): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribe = subscribe(runId, () => {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    });
    const timer = setTimeout(() => {
      unsubscribe();
      resolve();
    }, ms);
  });
}
