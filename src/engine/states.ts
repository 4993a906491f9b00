/**
 * The run state machine: every state name's coarse type and the one table of
 * allowed transitions. Stores build their `WHERE status IN (…)` guards from
 * `sourcesOf`, so nothing writes a state the table does not allow.
 */
import type { StateName, StateType } from './types.js';

export const STATE_TYPE: Record<StateName, StateType> = {
  Scheduled: 'SCHEDULED',
  AwaitingRetry: 'SCHEDULED',
  Pending: 'PENDING',
  Running: 'RUNNING',
  Retrying: 'RUNNING',
  Waiting: 'WAITING',
  Completed: 'COMPLETED',
  Cached: 'COMPLETED',
  Skipped: 'COMPLETED',
  Failed: 'FAILED',
  TimedOut: 'FAILED',
  Crashed: 'CRASHED',
  Cancelling: 'CANCELLING',
  Cancelled: 'CANCELLED',
};

export const STATE_NAMES = Object.keys(STATE_TYPE) as StateName[];
export const STATE_TYPES: StateType[] = [
  'SCHEDULED',
  'PENDING',
  'RUNNING',
  'WAITING',
  'COMPLETED',
  'FAILED',
  'CRASHED',
  'CANCELLING',
  'CANCELLED',
];

export const TERMINAL_STATES: readonly StateName[] = [
  'Completed',
  'Cached',
  'Skipped',
  'Failed',
  'TimedOut',
  'Crashed',
  'Cancelled',
];

/** Waiting for a worker to claim it. */
export const QUEUED_STATES: readonly StateName[] = ['Scheduled', 'Pending', 'AwaitingRetry'];
/** Held by a worker under a lease. */
export const LEASED_STATES: readonly StateName[] = ['Running', 'Retrying', 'Cancelling'];
/** Where a failed, timed-out, crashed or cancelled run may be retried by hand from. */
export const RETRYABLE_BY_HAND: readonly StateName[] = ['Failed', 'TimedOut', 'Crashed', 'Cancelled'];

/** Where an executing attempt (first or retry) may go. */
const FROM_RUNNING: readonly StateName[] = [
  'Completed',
  'Cached',
  'Skipped',
  'Failed',
  'TimedOut',
  'AwaitingRetry',
  'Cancelling',
  'Cancelled',
  'Pending',
  'Crashed',
  'Waiting',
];

const TRANSITIONS: Record<StateName, readonly StateName[]> = {
  Scheduled: ['Running', 'Retrying', 'Pending', 'Cancelled', 'TimedOut'],
  Pending: ['Running', 'Retrying', 'Cancelled', 'TimedOut'],
  AwaitingRetry: ['Retrying', 'Cancelled'],
  Running: FROM_RUNNING,
  Retrying: FROM_RUNNING,
  // A task of a workflow waits for its parents; a workflow run's own row is Running until it ends.
  Waiting: ['Pending', 'Cancelled', 'TimedOut'],
  Cancelling: ['Cancelled'],
  // Terminal states leave only through a deliberate retry (`handle.retry()`).
  Completed: [],
  Cached: [],
  Skipped: [],
  Failed: ['Pending'],
  TimedOut: ['Pending'],
  Crashed: ['Pending'],
  Cancelled: ['Pending'],
};

export function isTerminal(name: StateName): boolean {
  return TERMINAL_STATES.includes(name);
}

export function canTransition(from: StateName, to: StateName): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Every state that may move to `to`. */
export function sourcesOf(to: StateName): StateName[] {
  return STATE_NAMES.filter((from) => TRANSITIONS[from].includes(to));
}

/** The running-state name for an attempt: the first is `Running`, retries are `Retrying`. */
export function runningStateFor(attempt: number): StateName {
  return attempt === 0 ? 'Running' : 'Retrying';
}
