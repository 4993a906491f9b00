/**
 * Operations on runs from outside their attempt: cancel (with descendants),
 * retry by hand, and the sweep that re-queues or crashes runs whose lease
 * expired and times out runs nobody claimed before their schedule deadline.
 */

import {
  afterLeaseExpiry,
  cancelledError,
  crashError,
  leaseExpiredMessage,
  scheduleTimeoutError,
} from '../../engine/run-rules.js';
import { isTerminal, LEASED_STATES, QUEUED_STATES, RETRYABLE_BY_HAND } from '../../engine/states.js';
import type { StateName } from '../../engine/types.js';
import { InvalidStateError } from '../../errors.js';
import type { CancelResult, RunRow, StoredWaitingOn, SweepResult } from '../types.js';
import { advanceWorkflow } from './advance-workflow.js';
import type { SqliteConnection } from './connection.js';
import { RUN_COLUMNS, type SqlRunRow, toRunRow } from './rows.js';
import { closeAttempt, insertState } from './state-writes.js';
import { IS_LEASED, IS_QUEUED } from './status-sql.js';
import { forgetFailedSteps } from './steps.js';

function getRun(c: SqliteConnection, namespace: string, runId: string): RunRow | undefined {
  const row = c.stmt(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ? AND namespace = ?`).get(runId, namespace) as
    | SqlRunRow
    | undefined;
  return row ? toRunRow(row) : undefined;
}

const MAX_CANCEL_DEPTH = 10_000;

export function requestCancel(c: SqliteConnection, namespace: string, runId: string, reason: string): CancelResult | undefined {
  const root = getRun(c, namespace, runId);
  if (!root) return undefined;
  const now = c.now();
  const changed: CancelResult['changed'] = [];
  const children = c.stmt(`SELECT ${RUN_COLUMNS} FROM runs WHERE parent_run_id = ?`);
  const queue: { run: RunRow; reason: string }[] = [{ run: root, reason }];
  for (let i = 0; i < queue.length && i < MAX_CANCEL_DEPTH; i++) {
    const { run, reason: why } = queue[i] as { run: RunRow; reason: string };
    const status = cancelOne(c, run, why, now);
    if (status) changed.push({ id: run.id, status, leaseOwner: run.leaseOwner });
    for (const child of children.all(run.id) as SqlRunRow[]) {
      const childRun = toRunRow(child);
      if (!isTerminal(childRun.status)) queue.push({ run: childRun, reason: `parent run ${run.id} was cancelled: ${why}` });
    }
  }
  // Tasks of a workflow that ended here may let the rest of their workflow move on (or end it).
  for (const workflowRunId of workflowsTouched(c, changed)) advanceWorkflow(c, workflowRunId);
  return { changed, run: getRun(c, namespace, runId) as RunRow };
}

function workflowsTouched(c: SqliteConnection, changed: { id: string; status: StateName }[]): Set<string> {
  const workflows = new Set<string>();
  const select = c.stmt(`SELECT workflow_run_id FROM runs WHERE id = ? AND kind = 'task' AND workflow_run_id != id`);
  for (const change of changed) {
    if (change.status !== 'Cancelled') continue;
    const row = select.get(change.id) as { workflow_run_id: string } | undefined;
    if (row) workflows.add(row.workflow_run_id);
  }
  return workflows;
}

function cancelOne(c: SqliteConnection, run: RunRow, reason: string, now: number): StateName | null {
  if (QUEUED_STATES.includes(run.status) || run.status === 'Waiting' || (run.kind === 'workflow' && run.status === 'Running')) {
    // A durable wait ends with the run: no wake time and no event subscription are left behind.
    c.stmt(`UPDATE runs SET status = 'Cancelled', cancel_reason = ?, cancel_requested_at = ?, error = ?, finished_at = ?,
        waiting_on = NULL, wake_at = NULL, updated_at = ? WHERE id = ?`).run(
      reason,
      now,
      JSON.stringify(cancelledError(reason)),
      now,
      now,
      run.id,
    );
    if (run.status === 'Waiting') c.stmt('DELETE FROM event_waits WHERE run_id = ?').run(run.id);
    insertState(c, run.id, run.attempt, 'Cancelled', now, { message: reason });
    return 'Cancelled';
  }
  if (run.status === 'Running' || run.status === 'Retrying') {
    const waitingOn: StoredWaitingOn = {
      reason: 'cancellation',
      message: `cancellation requested (${reason}); waiting for the attempt to stop`,
      deadline: now + run.cancelGraceMs,
    };
    c.stmt(`UPDATE runs SET status = 'Cancelling', cancel_reason = ?, cancel_requested_at = ?, waiting_on = ?,
        updated_at = ? WHERE id = ?`).run(reason, now, JSON.stringify(waitingOn), now, run.id);
    insertState(c, run.id, run.attempt, 'Cancelling', now, { message: reason, waitingOn });
    return 'Cancelling';
  }
  return null;
}

export function retryRun(c: SqliteConnection, namespace: string, runId: string): RunRow | undefined {
  const run = getRun(c, namespace, runId);
  if (!run) return undefined;
  if (!RETRYABLE_BY_HAND.includes(run.status)) {
    throw new InvalidStateError(`run ${runId} is ${run.status}; only ${RETRYABLE_BY_HAND.join(', ')} runs can be retried`);
  }
  const now = c.now();
  forgetFailedSteps(c, runId);
  c.stmt(`UPDATE runs SET status = 'Pending', attempt = attempt + 1, crash_count = 0, error = NULL, output = NULL,
      finished_at = NULL, cancel_reason = NULL, cancel_requested_at = NULL, available_at = ?, waiting_on = NULL,
      lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?`).run(now, now, runId);
  insertState(c, runId, run.attempt + 1, 'Pending', now, { message: `retried by hand after ${run.status}` });
  return getRun(c, namespace, runId);
}

export function sweep(c: SqliteConnection): SweepResult {
  const now = c.now();
  const result: SweepResult = { requeued: [], crashed: [], timedOut: [], cancelled: [] };
  const expired = (
    c.stmt(`SELECT ${RUN_COLUMNS} FROM runs WHERE ${IS_LEASED} AND lease_expires_at < ?`).all(now) as SqlRunRow[]
  ).map(toRunRow);
  const workerName = c.stmt('SELECT name FROM workers WHERE id = ?');
  for (const run of expired) {
    if (!LEASED_STATES.includes(run.status)) continue;
    const owner = run.leaseOwner ?? 'unknown';
    const name = (workerName.get(owner) as { name: string } | undefined)?.name;
    const next = afterLeaseExpiry(run);
    closeAttempt(c, run.id, run.leaseEpoch, 'lease_expired', now);
    const release = 'lease_owner = NULL, lease_expires_at = NULL, deadline_at = NULL, updated_at = @now';
    if (next === 'Cancelled') {
      const reason = run.cancelReason ?? 'cancelled';
      c.stmt(`UPDATE runs SET status = 'Cancelled', error = @error, finished_at = @now, waiting_on = NULL, ${release}
          WHERE id = @id`).run({ id: run.id, now, error: JSON.stringify(cancelledError(reason)) });
      insertState(c, run.id, run.attempt, 'Cancelled', now, { message: `${reason} (the worker stopped heartbeating)` });
      result.cancelled.push({ ...run, status: 'Cancelled' });
    } else if (next === 'Crashed') {
      const error = crashError(owner, name, run.crashCount + 1);
      c.stmt(`UPDATE runs SET status = 'Crashed', crash_count = crash_count + 1, error = @error, finished_at = @now,
          waiting_on = NULL, ${release} WHERE id = @id`).run({ id: run.id, now, error: JSON.stringify(error) });
      insertState(c, run.id, run.attempt, 'Crashed', now, { message: error.message, error });
      result.crashed.push({ ...run, status: 'Crashed', error, crashCount: run.crashCount + 1 });
    } else {
      const waitingOn: StoredWaitingOn = {
        reason: 'lease-expired',
        message: leaseExpiredMessage(owner, name),
        workerId: owner,
        ...(name ? { workerName: name } : {}),
      };
      c.stmt(`UPDATE runs SET status = 'Pending', crash_count = crash_count + 1, available_at = @now, waiting_on = @waiting,
          ${release} WHERE id = @id`).run({ id: run.id, now, waiting: JSON.stringify(waitingOn) });
      insertState(c, run.id, run.attempt, 'Pending', now, { message: waitingOn.message, waitingOn });
      result.requeued.push({ ...run, status: 'Pending', crashCount: run.crashCount + 1 });
    }
  }
  const late = (
    c
      .stmt(`SELECT ${RUN_COLUMNS} FROM runs WHERE schedule_deadline_at IS NOT NULL AND schedule_deadline_at <= ?
        AND ${IS_QUEUED}`)
      .all(now) as SqlRunRow[]
  ).map(toRunRow);
  for (const run of late) {
    const error = scheduleTimeoutError();
    c.stmt(`UPDATE runs SET status = 'TimedOut', error = ?, finished_at = ?, waiting_on = NULL, schedule_deadline_at = NULL,
        updated_at = ? WHERE id = ?`).run(JSON.stringify(error), now, now, run.id);
    insertState(c, run.id, run.attempt, 'TimedOut', now, { message: error.message, error });
    result.timedOut.push({ ...run, status: 'TimedOut', error });
  }
  const ended = [...result.crashed, ...result.timedOut, ...result.cancelled].filter((r) => r.workflowRunId !== r.id);
  for (const workflowRunId of new Set(ended.map((r) => r.workflowRunId))) advanceWorkflow(c, workflowRunId);
  return result;
}
