/**
 * Glossary (one vocabulary for code, database and UI):
 * - task: code registered with `baton.task()`; a **task run** (run) is one execution of it.
 * - attempt: zero-based try of a run; it goes up only when a failure is retried.
 * - claim: a worker taking a run; every claim gets a new lease epoch (fencing token).
 * - lease: time a worker holds a claimed run; renewed by heartbeats; when it expires the
 *   run is re-queued (same attempt, one more crash) or ends Crashed.
 * - workflow / workflow run: a DAG of tasks and one execution of it. A standalone
 *   task's run is its own workflow run (same id).
 * - step: a recorded unit inside a durable task. event, schedule, worker, slot, namespace.
 *
 * This module holds the shapes shared by engine, store, worker and API. No I/O.
 */
import type { SerializedError } from '../errors.js';

export type StateType =
  | 'SCHEDULED'
  | 'PENDING'
  | 'RUNNING'
  | 'WAITING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CRASHED'
  | 'CANCELLING'
  | 'CANCELLED';

export type StateName =
  | 'Scheduled'
  | 'Pending'
  | 'Running'
  | 'Retrying'
  | 'AwaitingRetry'
  | 'Waiting'
  | 'Completed'
  | 'Cached'
  | 'Skipped'
  | 'Failed'
  | 'TimedOut'
  | 'Crashed'
  | 'Cancelling'
  | 'Cancelled';

/** Why a run is not progressing, as data (shown by the CLI and the dashboard). */
export type WaitingOn =
  | { reason: 'scheduled'; message: string; until: Date }
  | { reason: 'retry-delay'; message: string; until: Date }
  | { reason: 'no-worker'; message: string; task: string }
  | { reason: 'workers-busy'; message: string; task: string }
  | { reason: 'lease-expired'; message: string; workerId: string; workerName?: string }
  | { reason: 'cancellation'; message: string; deadline?: Date }
  | { reason: 'parents'; message: string; parents: string[] }
  | { reason: 'workflow-failure'; message: string }
  | { reason: 'durable-wait'; message: string; until?: Date; signalKey?: string; childRunId?: string }
  | { reason: 'concurrency'; message: string; key: string; max: number }
  | { reason: 'rate-limit'; message: string; key: string; until: Date }
  | { reason: 'labels'; message: string; labels: Record<string, string> }
  | { reason: 'cache'; message: string; runId: string };

/** One state of a run: `type` is coarse, `name` is fine (DESIGN.md §2.7). */
export interface State<Output = unknown> {
  type: StateType;
  name: StateName;
  timestamp: Date;
  message?: string;
  output?: Output;
  error?: SerializedError;
  waitingOn?: WaitingOn;
  /** The attempt the state belongs to. */
  attempt?: number;
}

/** What started a run (attempt 0); later attempts see `retry` wrapping it. */
export type TriggerOrigin =
  | { kind: 'manual' }
  | { kind: 'event'; event: EventRecord }
  | { kind: 'cron'; expression: string; scheduledAt: Date }
  | { kind: 'schedule'; scheduleId: string }
  | { kind: 'child'; parentTaskRunId: string }
  | { kind: 'replay'; sourceRunId: string }
  | { kind: 'fork'; sourceRunId: string; fromStep: string }
  /** A run of a task's onRollback or onCommit hook for a member of a `baton.transaction`. */
  | {
      kind: 'transaction';
      hook: 'rollback' | 'commit';
      transactionId: string;
      sourceRunId: string;
      /** The member's serialized output. */
      sourceOutput: string | null;
    };

export type Trigger = TriggerOrigin | { kind: 'retry'; previousAttempt: number; origin: TriggerOrigin };

export interface EventRecord {
  id: string;
  key: string;
  payload: unknown;
  metadata: Record<string, unknown>;
  time: Date;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  time: Date;
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
  attempt: number;
}

/**
 * How an enqueue ended: a new run; the run an idempotency key already points at; a queued
 * run of the same debounce key that took the new input; or a run created Cancelled because
 * its concurrency key was full under `cancel-newest`.
 */
export type EnqueueOutcome = 'created' | 'deduplicated' | 'debounced' | 'rejected';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
