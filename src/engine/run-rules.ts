/**
 * Decisions the stores apply inside their transactions: what a settlement does
 * to a run in a given state, what an expired lease does, and the messages that
 * explain it. Both backends call these, so they cannot drift apart.
 */
import type { SerializedError } from '../errors.js';
import { STATE_TYPE } from './states.js';
import type { StateName } from './types.js';

export type SettlementKind = 'complete' | 'cached' | 'retry' | 'fail' | 'cancel' | 'release' | 'skip' | 'suspend';

/**
 * The state a settlement moves a leased run to, or null when the run is not
 * leased any more (it was swept or re-claimed: the write is fenced). A run whose
 * cancellation was committed first ends Cancelled whatever the attempt reports.
 */
export function settledState(current: StateName, kind: SettlementKind, failedState?: 'Failed' | 'TimedOut'): StateName | null {
  if (current === 'Cancelling') return 'Cancelled';
  if (current !== 'Running' && current !== 'Retrying') return null;
  switch (kind) {
    case 'complete':
      return 'Completed';
    case 'cached':
      return 'Cached';
    case 'retry':
      return 'AwaitingRetry';
    case 'fail':
      return failedState ?? 'Failed';
    case 'cancel':
      return 'Cancelled';
    case 'release':
      return 'Pending';
    case 'skip':
      return 'Skipped';
    case 'suspend':
      return 'Waiting';
  }
}

export function attemptOutcomeOf(kind: SettlementKind, next: StateName, isTimeout: boolean) {
  if (next === 'Cancelled') return 'cancelled' as const;
  if (kind === 'complete' || kind === 'cached' || kind === 'skip') return 'completed' as const;
  if (kind === 'release') return 'released' as const;
  if (kind === 'suspend') return 'suspended' as const;
  return isTimeout || next === 'TimedOut' ? ('timed_out' as const) : ('failed' as const);
}

/** What happens to a run whose lease expired: its worker is presumed dead. */
export function afterLeaseExpiry(run: { status: StateName; crashCount: number; maxCrashes: number }): StateName {
  if (run.status === 'Cancelling') return 'Cancelled';
  return run.crashCount + 1 > run.maxCrashes ? 'Crashed' : 'Pending';
}

export function crashError(workerId: string, workerName: string | undefined, crashes: number): SerializedError {
  const who = workerName ? `${workerName} (${workerId})` : workerId;
  return {
    name: 'WorkerCrashedError',
    code: 'worker_crashed',
    message: `the run's worker ${who} stopped heartbeating; the run's lease expired ${crashes} time(s), more than maxCrashes allows`,
  };
}

export function leaseExpiredMessage(workerId: string, workerName: string | undefined): string {
  const who = workerName ? `${workerName} (${workerId})` : workerId;
  return `lease expired on worker ${who}; re-queued`;
}

export function scheduleTimeoutError(): SerializedError {
  return {
    name: 'TaskRunTimeoutError',
    code: 'BATON_TIMEOUT',
    message: 'no worker claimed the run within its scheduleTimeout',
  };
}

export function cancelledError(reason: string): SerializedError {
  return { name: 'CancelledError', code: 'BATON_CANCELLED', message: `run cancelled: ${reason}` };
}

export function typeOf(name: StateName) {
  return STATE_TYPE[name];
}
