/**
 * Batches the step records of a worker's durable attempts: records queued while a batch is being
 * written (or in the same tick) go to the store together, in one transaction, so concurrent
 * durable runs share commits instead of paying one each. A batch the store refuses for a reason
 * retrying cannot fix is written again one attempt at a time, so one bad record fails only its own
 * attempt.
 */
import { StorageError } from '../errors.js';
import type { LeaseRef, NewStep, StepGroup, Store } from '../store/types.js';

const MAX_BATCH = 200;

interface Queued {
  group: StepGroup;
  resolve(fenced: boolean): void;
  reject(error: unknown): void;
}

export class StepQueue {
  #queued: Queued[] = [];
  #isScheduled = false;
  #isWriting = false;

  constructor(private readonly store: Store) {}

  /** Resolves true once stored, false when the lease was lost (nothing written). */
  record(lease: LeaseRef, steps: readonly NewStep[]): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queued.push({ group: { lease, steps }, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#isScheduled || this.#isWriting) return;
    this.#isScheduled = true;
    setImmediate(() => {
      this.#isScheduled = false;
      void this.#write();
    });
  }

  async #write(): Promise<void> {
    const batch = this.#queued.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    this.#isWriting = true;
    try {
      await this.#store(batch);
    } finally {
      this.#isWriting = false;
      if (this.#queued.length > 0) this.#schedule();
    }
  }

  async #store(batch: Queued[]): Promise<void> {
    try {
      const fenced = await this.store.recordSteps(batch.map((q) => q.group));
      batch.forEach((q, i) => {
        q.resolve(fenced[i] === true);
      });
    } catch (error) {
      const isRetryable = error instanceof StorageError && error.retryable;
      if (isRetryable || batch.length === 1) {
        // Each caller retries its own record (durable-steps.ts); a retryable failure is not theirs to judge alone.
        for (const q of batch) q.reject(error);
        return;
      }
      for (const q of batch) {
        await this.store.recordSteps([q.group]).then(
          (fenced) => q.resolve(fenced[0] === true),
          (alone: unknown) => q.reject(alone),
        );
      }
    }
  }
}
