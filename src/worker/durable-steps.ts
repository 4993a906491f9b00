/**
 * The worker side of a durable task's steps: the records loaded when the
 * attempt starts, and writes of new ones fenced by the attempt's lease epoch.
 * Recorded now()/randomUUID() values are written with the next step or before
 * the attempt settles. These writes are fenced and idempotent (first record wins), so one
 * that fails on a lost connection, even one whose COMMIT may have landed, is simply retried.
 */
import { sleepOn } from '../clock/clock.js';
import type { DurableControl, DurableTransaction, StepRecord } from '../context/durable-context.js';
import { deserialize } from '../engine/serializer.js';
import { isTerminal } from '../engine/states.js';
import type { EventRecord } from '../engine/types.js';
import { LeaseLostError, RunFailedError, RunNotFoundError, StorageError } from '../errors.js';
import type { LeaseRef, StepRow } from '../store/types.js';
import type { AttemptHost } from './attempt.js';

const WRITE_TRIES = 6;

/** Runs a fenced, idempotent store write again while it fails retryably (100 ms, 200 ms, … 1.6 s: about 3 s in all). */
async function retried<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof StorageError && error.retryable) || attempt >= WRITE_TRIES) throw error;
      await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }
}

export interface SuspendWaitFor {
  runId?: string;
  events?: { keys: string[]; since: number; seenEventIds: string[] };
}

export class DurableSteps implements DurableControl {
  readonly recorded: readonly StepRecord[];
  readonly outputLimit: number;
  readonly #host: AttemptHost;
  readonly #lease: LeaseRef;
  readonly #attempt: number;
  #pending: StepRecord[] = [];

  readonly #onSuspend: (wakeAt: number | null, message: string, waitFor?: SuspendWaitFor) => void;
  readonly runStartedAt: number;

  constructor(
    host: AttemptHost,
    lease: LeaseRef,
    attempt: number,
    rows: readonly StepRow[],
    onSuspend: (wakeAt: number | null, message: string, waitFor?: SuspendWaitFor) => void,
    runStartedAt: number,
  ) {
    this.runStartedAt = runStartedAt;
    this.#onSuspend = onSuspend;
    this.#host = host;
    this.#lease = lease;
    this.#attempt = attempt;
    this.outputLimit = host.limits.output;
    this.recorded = rows.map((row) => ({ key: row.key, seq: row.seq, kind: row.kind, output: row.output, error: row.error }));
  }

  async record(step: StepRecord): Promise<void> {
    const steps = [...this.#pending.splice(0), step];
    const ok = await retried(() =>
      this.#host.steps.record(
        this.#lease,
        steps.map((s) => ({ ...s, attempt: this.#attempt })),
      ),
    );
    if (!ok) throw new LeaseLostError(this.#lease.runId);
  }

  async transaction<T>(
    step: { key: string; seq: number },
    fn: (tx: DurableTransaction) => Promise<T>,
    encode: (value: T) => string | null,
  ): Promise<{ outcome: 'committed'; value: T } | { outcome: 'exists'; record: StepRecord } | { outcome: 'fenced' }> {
    await this.flush();
    // A retry after an unknown COMMIT finds the step recorded ('exists'): its writes happen once.
    const result = await retried(() =>
      this.#host.store.runStepTransaction(this.#lease, { ...step, attempt: this.#attempt }, fn, encode),
    );
    if (result.outcome !== 'exists') return result;
    const r = result.record;
    return { outcome: 'exists', record: { key: r.key, seq: r.seq, kind: r.kind, output: r.output, error: r.error } };
  }

  recordLater(step: StepRecord): void {
    this.#pending.push(step);
  }

  /** Writes values recorded with `recordLater` (before the attempt settles). */
  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const steps = this.#pending.splice(0);
    await retried(() =>
      this.#host.steps.record(
        this.#lease,
        steps.map((s) => ({ ...s, attempt: this.#attempt })),
      ),
    );
  }

  now(): number {
    return this.#host.clock.now();
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return sleepOn(this.#host.clock, ms, signal);
  }

  async runResult(runId: string): Promise<{ ended: false } | { ended: true; output: unknown } | { ended: true; error: Error }> {
    const run = await this.#host.store.getRun(this.#host.namespace, runId);
    if (!run) return { ended: true, error: new RunNotFoundError(runId) };
    if (!isTerminal(run.status)) return { ended: false };
    if (run.status === 'Completed' || run.status === 'Cached' || run.status === 'Skipped') {
      return { ended: true, output: deserialize(run.output) };
    }
    return { ended: true, error: new RunFailedError(run.id, run.status, run.error ?? undefined) };
  }

  async findEvents(keys: readonly string[], since: number): Promise<EventRecord[]> {
    const rows = await this.#host.store.findWaitEvents(this.#host.namespace, this.#lease.runId, keys, since, 500);
    return rows.map((row) => ({
      id: row.id,
      key: row.key,
      payload: deserialize(row.payload),
      metadata: row.metadata,
      time: new Date(row.time),
    }));
  }

  async resolveWait(step: StepRecord, eventIds: readonly string[]): Promise<void> {
    await this.flush();
    if (!(await retried(() => this.#host.store.resolveWait(this.#lease, { ...step, attempt: this.#attempt }, eventIds)))) {
      throw new LeaseLostError(this.#lease.runId);
    }
  }

  suspend(wakeAt: number | null, message: string, waitFor?: SuspendWaitFor): Promise<never> {
    this.#onSuspend(wakeAt, message, waitFor);
    // The handler stays parked here until it is dropped with the attempt; a later
    // execution replays it from the top.
    return new Promise<never>(() => {});
  }
}
