/**
 * Batches an attempt's writes: log lines and settlements queued in the same
 * tick go to the store in one transaction (logs first, so a run's logs are
 * stored before its final state). A failed flush is retried with backoff until
 * the queue is closed: an attempt's result is never dropped while its worker lives.
 */
import type { StateName } from '../engine/types.js';
import { StorageError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { NewLog, Settlement, Store } from '../store/types.js';

interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

const MAX_BATCH = 500;
const MAX_BACKOFF_MS = 5_000;

export class WriteQueue {
  private logs: { log: NewLog; waiter: Pending<void> }[] = [];
  private settlements: { settlement: Settlement; waiter: Pending<StateName | null> }[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined = undefined;
  private isFlushing = false;
  private closed = false;
  private failures = 0;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  log(log: NewLog): Promise<void> {
    return new Promise((resolve, reject) => {
      this.logs.push({ log, waiter: { resolve, reject } });
      this.schedule();
    });
  }

  settle(settlement: Settlement): Promise<StateName | null> {
    return new Promise((resolve, reject) => {
      this.settlements.push({ settlement, waiter: { resolve, reject } });
      this.schedule();
    });
  }

  /** Flushes everything queued so far. */
  async drain(): Promise<void> {
    for (let i = 0; i < 100 && (this.logs.length > 0 || this.settlements.length > 0 || this.isFlushing); i++) {
      if (this.isFlushing) await this.flushing;
      else await this.flush();
    }
  }

  /** Rejects what is still queued; later writes reject at once. */
  close(): void {
    this.closed = true;
    const error = new Error('the worker stopped before this write was stored');
    for (const { waiter } of this.logs.splice(0)) waiter.reject(error);
    for (const { waiter } of this.settlements.splice(0)) waiter.reject(error);
  }

  private schedule(): void {
    if (this.closed) {
      this.close();
      return;
    }
    if (this.scheduled || this.isFlushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  async #writeOneByOne(
    logs: { log: NewLog; waiter: Pending<void> }[],
    settlements: { settlement: Settlement; waiter: Pending<StateName | null> }[],
    batchError: unknown,
  ): Promise<void> {
    if (logs.length + settlements.length === 1) {
      this.logger.error({ err: batchError }, 'an attempt result cannot be stored');
      for (const { waiter } of logs) waiter.reject(batchError);
      for (const { waiter } of settlements) waiter.reject(batchError);
      return;
    }
    for (const { log, waiter } of logs) {
      await this.store.settle([log], []).then(
        () => waiter.resolve(),
        (error: unknown) => waiter.reject(error),
      );
    }
    for (const { settlement, waiter } of settlements) {
      await this.store.settle([], [settlement]).then(
        (results) => waiter.resolve(results[0] ?? null),
        (error: unknown) => {
          this.logger.error({ err: error, runId: settlement.runId }, 'an attempt result cannot be stored');
          waiter.reject(error);
        },
      );
    }
  }

  private async flush(): Promise<void> {
    if (this.isFlushing) return this.flushing;
    const logs = this.logs.splice(0, MAX_BATCH);
    const settlements = this.settlements.splice(0, MAX_BATCH);
    if (logs.length === 0 && settlements.length === 0) return;
    this.isFlushing = true;
    this.flushing = (async () => {
      try {
        const results = await this.store.settle(
          logs.map((l) => l.log),
          settlements.map((s) => s.settlement),
        );
        this.failures = 0;
        for (const { waiter } of logs) waiter.resolve();
        settlements.forEach(({ waiter }, i) => {
          waiter.resolve(results[i] ?? null);
        });
      } catch (error) {
        if (isRetryable(error)) {
          this.failures++;
          this.logger.warn({ err: error, failures: this.failures }, 'could not store attempt results; retrying');
          // Put them back in front, in order, and retry after a backoff.
          this.logs.unshift(...logs);
          this.settlements.unshift(...settlements);
          const delay = Math.min(MAX_BACKOFF_MS, 50 * 2 ** Math.min(this.failures, 10));
          await new Promise((r) => setTimeout(r, delay));
        } else {
          // Retrying cannot help: write each item alone so one bad item fails only its own attempt
          // (whose lease then expires and the sweep takes over), never the whole batch.
          await this.#writeOneByOne(logs, settlements, error);
        }
      } finally {
        this.isFlushing = false;
        this.flushing = undefined;
      }
      if (this.closed) this.close();
      else if (this.logs.length > 0 || this.settlements.length > 0) this.schedule();
    })();
    return this.flushing;
  }
}

/** Busy databases and lost connections may recover; anything else will fail the same way again. */
function isRetryable(error: unknown): boolean {
  return error instanceof StorageError && error.retryable;
}
