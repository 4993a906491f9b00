/**
 * Operations on runs from outside their attempt: cancel (with descendants),
 * retry by hand, and the sweep that re-queues or crashes runs whose lease
 * expired and times out runs nobody claimed before their schedule deadline.
 * Each locks the rows it decides on; the sweep skips rows another process
 * holds (that process is settling or sweeping them).
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
import { advanceWorkflows } from './advance-workflow.js';
import type { Tx } from './connection.js';
import { type PgRunRow, RUN_COLUMNS, toRunRow } from './rows.js';
import { type AttemptEnd, closeAttempts, insertStates, type NewState } from './state-writes.js';
import { forgetFailedSteps } from './steps.js';

async function lockRun(tx: Tx, namespace: string, runId: string): Promise<RunRow | undefined> {
  const result = await tx.query<PgRunRow>(`SELECT ${RUN_COLUMNS} FROM ${tx.t.runs} WHERE id = $1 AND namespace = $2 FOR UPDATE`, [
    runId,
    namespace,
  ]);
  return result.rows[0] ? toRunRow(result.rows[0]) : undefined;
}

const MAX_CANCEL_DEPTH = 10_000;

export async function requestCancel(tx: Tx, namespace: string, runId: string, reason: string): Promise<CancelResult | undefined> {
  const root = await lockRun(tx, namespace, runId);
  if (!root) return undefined;
  const changed: CancelResult['changed'] = [];
  const states: NewState[] = [];
  const queue: { run: RunRow; reason: string }[] = [{ run: root, reason }];
  for (let i = 0; i < queue.length && i < MAX_CANCEL_DEPTH; i++) {
    const { run, reason: why } = queue[i] as { run: RunRow; reason: string };
    const status = await cancelOne(tx, run, why, states);
    if (status) {
      changed.push({ id: run.id, status, leaseOwner: run.leaseOwner });
      tx.notify({ t: 'run', id: run.id });
      if (status === 'Cancelling') tx.notify({ t: 'cancel', id: run.id });
    }
    const children = await tx.query<PgRunRow>(
      `SELECT ${RUN_COLUMNS} FROM ${tx.t.runs} WHERE parent_run_id = $1 ORDER BY id FOR UPDATE`,
      [run.id],
    );
    for (const child of children.rows) {
      const childRun = toRunRow(child);
      if (!isTerminal(childRun.status)) queue.push({ run: childRun, reason: `parent run ${run.id} was cancelled: ${why}` });
    }
  }
  await insertStates(tx, states);
  // Tasks of a workflow that ended here may let the rest of their workflow move on (or end it).
  await advanceWorkflows(tx, await workflowsTouched(tx, changed));
  const after = await tx.query<PgRunRow>(`SELECT ${RUN_COLUMNS} FROM ${tx.t.runs} WHERE id = $1`, [runId]);
  return { changed, run: toRunRow(after.rows[0] as PgRunRow) };
}

async function workflowsTouched(tx: Tx, changed: CancelResult['changed']): Promise<string[]> {
  const ids = changed.filter((change) => change.status === 'Cancelled').map((change) => change.id);
  if (ids.length === 0) return [];
  const result = await tx.query<{ workflow_run_id: string }>(
    `SELECT DISTINCT workflow_run_id FROM ${tx.t.runs} WHERE id = ANY($1::text[]) AND kind = 'task' AND workflow_run_id != id`,
    [ids],
  );
  return result.rows.map((row) => row.workflow_run_id);
}

async function cancelOne(tx: Tx, run: RunRow, reason: string, states: NewState[]): Promise<StateName | null> {
  const { t, now } = tx;
  if (QUEUED_STATES.includes(run.status) || run.status === 'Waiting' || (run.kind === 'workflow' && run.status === 'Running')) {
    // A durable wait ends with the run: no wake time and no event subscription are left behind.
    await tx.query(
      `UPDATE ${t.runs} SET status = 'Cancelled', cancel_reason = $2, cancel_requested_at = $3, error = $4, finished_at = $3,
         waiting_on = NULL, wake_at = NULL, updated_at = $3 WHERE id = $1`,
      [run.id, reason, now, JSON.stringify(cancelledError(reason))],
    );
    if (run.status === 'Waiting') await tx.query(`DELETE FROM ${t.eventWaits} WHERE run_id = $1`, [run.id]);
    states.push({ runId: run.id, attempt: run.attempt, name: 'Cancelled', at: now, message: reason });
    return 'Cancelled';
  }
  if (run.status === 'Running' || run.status === 'Retrying') {
    const waitingOn: StoredWaitingOn = {
      reason: 'cancellation',
      message: `cancellation requested (${reason}); waiting for the attempt to stop`,
      deadline: now + run.cancelGraceMs,
    };
    await tx.query(
      `UPDATE ${t.runs} SET status = 'Cancelling', cancel_reason = $2, cancel_requested_at = $3, waiting_on = $4,
         updated_at = $3 WHERE id = $1`,
      [run.id, reason, now, JSON.stringify(waitingOn)],
    );
    states.push({ runId: run.id, attempt: run.attempt, name: 'Cancelling', at: now, message: reason, waitingOn });
    return 'Cancelling';
  }
  return null;
}

export async function retryRun(tx: Tx, namespace: string, runId: string): Promise<RunRow | undefined> {
  const run = await lockRun(tx, namespace, runId);
  if (!run) return undefined;
  if (!RETRYABLE_BY_HAND.includes(run.status)) {
    throw new InvalidStateError(`run ${runId} is ${run.status}; only ${RETRYABLE_BY_HAND.join(', ')} runs can be retried`);
  }
  const { t, now } = tx;
  await forgetFailedSteps(tx, runId);
  const updated = await tx.query<PgRunRow>(
    `UPDATE ${t.runs} SET status = 'Pending', attempt = attempt + 1, crash_count = 0, error = NULL, output = NULL,
       finished_at = NULL, cancel_reason = NULL, cancel_requested_at = NULL, available_at = $2, waiting_on = NULL,
       lease_owner = NULL, lease_expires_at = NULL, updated_at = $2 WHERE id = $1 RETURNING ${RUN_COLUMNS}`,
    [runId, now],
  );
  await insertStates(tx, [
    { runId, attempt: run.attempt + 1, name: 'Pending', at: now, message: `retried by hand after ${run.status}` },
  ]);
  tx.notify({ t: 'run', id: runId });
  tx.notify({ t: 'available', ns: namespace });
  return toRunRow(updated.rows[0] as PgRunRow);
}

const RELEASE = 'lease_owner = NULL, lease_expires_at = NULL, deadline_at = NULL, updated_at = $2';

export async function sweep(tx: Tx): Promise<SweepResult> {
  const { t, now } = tx;
  const result: SweepResult = { requeued: [], crashed: [], timedOut: [], cancelled: [] };
  const states: NewState[] = [];
  const ends: AttemptEnd[] = [];
  const expired = (
    await tx.query<PgRunRow>(
      `SELECT ${RUN_COLUMNS} FROM ${t.runs} WHERE status IN ('Running', 'Retrying', 'Cancelling') AND lease_expires_at < $1
       ORDER BY id FOR UPDATE SKIP LOCKED`,
      [now],
    )
  ).rows.map(toRunRow);
  const owners = [...new Set(expired.map((r) => r.leaseOwner).filter((o): o is string => o !== null))];
  const names = new Map<string, string>();
  if (owners.length > 0) {
    const rows = await tx.query<{ id: string; name: string }>(`SELECT id, name FROM ${t.workers} WHERE id = ANY($1::text[])`, [
      owners,
    ]);
    for (const row of rows.rows) names.set(row.id, row.name);
  }
  for (const run of expired) {
    if (!LEASED_STATES.includes(run.status)) continue;
    const owner = run.leaseOwner ?? 'unknown';
    const name = names.get(owner);
    const next = afterLeaseExpiry(run);
    ends.push({ runId: run.id, epoch: run.leaseEpoch, outcome: 'lease_expired' });
    tx.notify({ t: 'run', id: run.id });
    if (next === 'Cancelled') {
      const reason = run.cancelReason ?? 'cancelled';
      await tx.query(
        `UPDATE ${t.runs} SET status = 'Cancelled', error = $3, finished_at = $2, waiting_on = NULL, ${RELEASE} WHERE id = $1`,
        [run.id, now, JSON.stringify(cancelledError(reason))],
      );
      states.push({
        runId: run.id,
        attempt: run.attempt,
        name: 'Cancelled',
        at: now,
        message: `${reason} (the worker stopped heartbeating)`,
      });
      result.cancelled.push({ ...run, status: 'Cancelled' });
    } else if (next === 'Crashed') {
      const error = crashError(owner, name, run.crashCount + 1);
      await tx.query(
        `UPDATE ${t.runs} SET status = 'Crashed', crash_count = crash_count + 1, error = $3, finished_at = $2,
           waiting_on = NULL, ${RELEASE} WHERE id = $1`,
        [run.id, now, JSON.stringify(error)],
      );
      states.push({ runId: run.id, attempt: run.attempt, name: 'Crashed', at: now, message: error.message, error });
      result.crashed.push({ ...run, status: 'Crashed', error, crashCount: run.crashCount + 1 });
    } else {
      const waitingOn: StoredWaitingOn = {
        reason: 'lease-expired',
        message: leaseExpiredMessage(owner, name),
        workerId: owner,
        ...(name ? { workerName: name } : {}),
      };
      await tx.query(
        `UPDATE ${t.runs} SET status = 'Pending', crash_count = crash_count + 1, available_at = $2, waiting_on = $3,
           ${RELEASE} WHERE id = $1`,
        [run.id, now, JSON.stringify(waitingOn)],
      );
      states.push({ runId: run.id, attempt: run.attempt, name: 'Pending', at: now, message: waitingOn.message, waitingOn });
      result.requeued.push({ ...run, status: 'Pending', crashCount: run.crashCount + 1 });
      tx.notify({ t: 'available', ns: run.namespace });
    }
  }
  await closeAttempts(tx, ends, now);
  const late = (
    await tx.query<PgRunRow>(
      `SELECT ${RUN_COLUMNS} FROM ${t.runs} WHERE schedule_deadline_at IS NOT NULL AND schedule_deadline_at <= $1
         AND status IN ('Scheduled', 'Pending', 'AwaitingRetry') ORDER BY id FOR UPDATE SKIP LOCKED`,
      [now],
    )
  ).rows.map(toRunRow);
  for (const run of late) {
    const error = scheduleTimeoutError();
    await tx.query(
      `UPDATE ${t.runs} SET status = 'TimedOut', error = $3, finished_at = $2, waiting_on = NULL, schedule_deadline_at = NULL,
         updated_at = $2 WHERE id = $1`,
      [run.id, now, JSON.stringify(error)],
    );
    states.push({ runId: run.id, attempt: run.attempt, name: 'TimedOut', at: now, message: error.message, error });
    result.timedOut.push({ ...run, status: 'TimedOut', error });
    tx.notify({ t: 'run', id: run.id });
  }
  await insertStates(tx, states);
  const ended = [...result.crashed, ...result.timedOut, ...result.cancelled].filter((r) => r.workflowRunId !== r.id);
  await advanceWorkflows(
    tx,
    ended.map((r) => r.workflowRunId),
  );
  return result;
}
