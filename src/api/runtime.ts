/** What the API's parts share from their Baton instance. */
import type { Clock } from '../clock/clock.js';
import type { PayloadLimits } from '../engine/limits.js';
import type { Logger } from '../logger.js';
import type { Notifier } from '../store/notifier.js';
import type { NewRun, Store } from '../store/types.js';
import type { InlineRunner } from './inline.js';
import type { RunWaiter } from './run-waiter.js';

export interface BatonRuntime {
  readonly namespace: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly limits: PayloadLimits;
  readonly idempotencyWindowMs: number;
  readonly rawDataRoot: string;
  store(): Promise<Store>;
  notifier(): Promise<Notifier>;
  /** Waits for runs to end (shared by every handle of the instance). */
  waiter(): RunWaiter;
  /**
   * Adds the flow-control rules of a task or workflow defined in this process to rows
   * built from its stored template (an event or a cron starting it).
   */
  applyLocalFlow?(name: string, rows: NewRun[], input: unknown): void;
  /** Runs tasks inline in this process (`task.runInline`). */
  inline?(): InlineRunner;
}
