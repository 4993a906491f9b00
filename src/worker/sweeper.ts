/**
 * The periodic sweep: re-queues runs whose worker stopped heartbeating, ends
 * them Crashed past maxCrashes, and times out runs nobody claimed in time.
 * Runs in every process that runs a worker; the store makes each sweep one
 * transaction, so concurrent sweepers never double-apply.
 */
import { type Logger, RepeatedWarning } from '../logger.js';
import type { Notifier } from '../store/notifier.js';
import type { Store, SweepResult } from '../store/types.js';
import type { TaskDefinition } from './task-definition.js';

export class Sweeper {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  readonly #failure = new RepeatedWarning();

  constructor(
    private readonly store: Store,
    private readonly notifier: Notifier,
    private readonly namespace: string,
    private readonly logger: Logger,
    private readonly definitions: () => ReadonlyMap<string, TaskDefinition>,
  ) {}

  start(intervalMs: number): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.sweep(), intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Sweeps now (or joins the sweep in progress). Never throws. */
  sweep(): Promise<void> {
    this.#running ??= this.#sweepOnce().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweepOnce(): Promise<void> {
    let result: SweepResult;
    try {
      result = await this.store.sweep();
    } catch (error) {
      this.#failure.warn(this.logger, { err: error }, 'sweep failed; will try again');
      return;
    }
    this.#failure.reset();
    const changed = [...result.requeued, ...result.crashed, ...result.timedOut, ...result.cancelled];
    for (const run of changed) this.notifier.runChanged(run.id);
    if (result.requeued.length > 0) {
      this.logger.warn({ runs: result.requeued.map((r) => r.id) }, 'leases expired; runs re-queued');
      this.notifier.runsAvailable(this.namespace);
    }
    for (const run of result.crashed) {
      this.logger.error({ runId: run.id, task: run.taskName }, 'run crashed: its workers kept dying');
      const hook = this.definitions().get(run.queueKey)?.hooks.onCrashed;
      if (!hook) continue;
      try {
        await hook({ runId: run.id, taskName: run.taskName, error: run.error ?? { name: 'WorkerCrashedError', message: '' } });
      } catch (error) {
        this.logger.warn({ err: error, runId: run.id }, 'onCrashed hook threw');
      }
    }
  }
}
