/**
 * The worker side of a durable task's steps: the records loaded when the
 * attempt starts, and writes of new ones fenced by the attempt's lease epoch.
 * Recorded now()/randomUUID() values are written with the next step or before
 * the attempt settles.
 */
import { sleepOn } from '../clock/clock.js';
import type { DurableControl, DurableTransaction, StepRecord } from '../context/durable-context.js';
import { deserialize } from '../engine/serializer.js';
import { isTerminal } from '../engine/states.js';
import { LeaseLostError, RunFailedError, RunNotFoundError } from '../errors.js';
import type { LeaseRef, StepRow } from '../store/types.js';
import type { AttemptHost } from './attempt.js';

export class DurableSteps implements DurableControl {
  readonly recorded: readonly StepRecord[];
  readonly outputLimit: number;
  readonly #host: AttemptHost;
  readonly #lease: LeaseRef;
  readonly #attempt: number;
  #pending: StepRecord[] = [];

  readonly #onSuspend: (wakeAt: number | null, message: string, waitForRunId?: string) => void;

  constructor(
    host: AttemptHost,
    lease: LeaseRef,
    attempt: number,
    rows: readonly StepRow[],
    onSuspend: (wakeAt: number | null, message: string, waitForRunId?: string) => void,
  ) {
    this.#onSuspend = onSuspend;
    this.#host = host;
    this.#lease = lease;
    this.#attempt = attempt;
    this.outputLimit = host.limits.output;
    this.recorded = rows.map((row) => ({ key: row.key, seq: row.seq, kind: row.kind, output: row.output, error: row.error }));
  }

  async record(step: StepRecord): Promise<void> {
    const steps = [...this.#pending.splice(0), step];
    const ok = await this.#host.store.recordSteps(
      this.#lease,
      steps.map((s) => ({ ...s, attempt: this.#attempt })),
    );
    if (!ok) throw new LeaseLostError(this.#lease.runId);
  }

  async transaction<T>(
    step: { key: string; seq: number },
    fn: (tx: DurableTransaction) => Promise<T>,
    encode: (value: T) => string | null,
  ): Promise<{ outcome: 'committed'; value: T } | { outcome: 'exists'; record: StepRecord } | { outcome: 'fenced' }> {
    await this.flush();
    const result = await this.#host.store.runStepTransaction(this.#lease, { ...step, attempt: this.#attempt }, fn, encode);
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
    await this.#host.store.recordSteps(
      this.#lease,
      steps.map((s) => ({ ...s, attempt: this.#attempt })),
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

  suspend(wakeAt: number | null, message: string, waitForRunId?: string): Promise<never> {
    this.#onSuspend(wakeAt, message, waitForRunId);
    // The handler stays parked here until it is dropped with the attempt; a later
    // execution replays it from the top.
    return new Promise<never>(() => {});
  }
}
