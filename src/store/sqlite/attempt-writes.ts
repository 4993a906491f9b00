/**
 * Writes made by a running attempt, each fenced by its lease epoch: lease
 * renewal, logs, settlements, checkpoints, progress, deadline and stream chunks.
 * A write whose epoch is not the run's current one changes nothing.
 */

import { attemptOutcomeOf, cancelledError, settledState } from '../../engine/run-rules.js';
import { isTerminal, LEASED_STATES } from '../../engine/states.js';
import type { StateName } from '../../engine/types.js';
import type { CancelNotice, LeaseRef, LeaseRenewal, NewLog, Settlement, StoredWaitingOn } from '../types.js';
import { advanceWorkflow } from './advance-workflow.js';
import { recordCacheEntry } from './cache.js';
import type { SqliteConnection } from './connection.js';
import { closeAttempt, insertState } from './state-writes.js';
import { IS_LEASED } from './status-sql.js';
import { forgetFailedSteps, registerEventWait } from './steps.js';

export function renewLeases(
  c: SqliteConnection,
  request: { workerId: string; leaseMs: number; leases: readonly LeaseRef[] },
): LeaseRenewal {
  const now = c.now();
  c.stmt('UPDATE workers SET heartbeat_at = ? WHERE id = ?').run(now, request.workerId);
  const renew = c.stmt(`UPDATE runs SET lease_expires_at = ? WHERE id = ? AND lease_epoch = ? AND ${IS_LEASED}`);
  const lost: string[] = [];
  for (const lease of request.leases) {
    if (renew.run(now + request.leaseMs, lease.runId, lease.epoch).changes === 0) lost.push(lease.runId);
  }
  const epochs = new Map(request.leases.map((l) => [l.runId, l.epoch]));
  const cancelling = c
    .stmt(`SELECT id, lease_epoch, cancel_reason, cancel_requested_at FROM runs WHERE lease_owner = ? AND status = 'Cancelling'`)
    .all(request.workerId) as { id: string; lease_epoch: number; cancel_reason: string | null; cancel_requested_at: number }[];
  const cancelRequested: CancelNotice[] = cancelling
    .filter((row) => epochs.get(row.id) === row.lease_epoch)
    .map((row) => ({ runId: row.id, reason: row.cancel_reason ?? 'cancelled', requestedAt: row.cancel_requested_at }));
  return { lost, cancelRequested };
}

export function insertLogs(c: SqliteConnection, logs: readonly NewLog[]): void {
  if (logs.length === 0) return;
  const insert = c.stmt(`INSERT INTO logs (run_id, attempt, at, level, message, fields)
    SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM runs WHERE id = ? AND lease_epoch = ?)`);
  for (const log of logs) {
    insert.run(
      log.runId,
      log.attempt,
      log.time,
      log.level,
      log.message,
      log.fields ? JSON.stringify(log.fields) : null,
      log.runId,
      log.epoch,
    );
  }
}

interface LeasedRow {
  status: StateName;
  attempt: number;
  cancel_reason: string | null;
  workflow_run_id: string;
  id: string;
}

export function settle(c: SqliteConnection, logs: readonly NewLog[], settlements: readonly Settlement[]): (StateName | null)[] {
  insertLogs(c, logs);
  const now = c.now();
  const select = c.stmt(`SELECT id, status, attempt, cancel_reason, workflow_run_id FROM runs WHERE id = ? AND lease_epoch = ?`);
  return settlements.map((s) => {
    const row = select.get(s.runId, s.epoch) as LeasedRow | undefined;
    if (!row || !LEASED_STATES.includes(row.status)) return null;
    const next = settledState(row.status, s.kind, s.kind === 'fail' ? s.stateName : undefined);
    if (!next) return null;
    applySettlement(c, s, row, next, now);
    closeAttempt(c, s.runId, s.epoch, attemptOutcomeOf(s.kind, next, s.kind === 'retry' && s.isTimeout), now);
    if (row.workflow_run_id !== row.id && isTerminal(next)) advanceWorkflow(c, row.workflow_run_id);
    return next;
  });
}

function applySettlement(c: SqliteConnection, s: Settlement, row: LeasedRow, next: StateName, now: number): void {
  const release = 'lease_owner = NULL, lease_expires_at = NULL, deadline_at = NULL, updated_at = @now';
  if (next === 'Cancelled') {
    const reason = row.cancel_reason ?? (s.kind === 'cancel' ? s.reason : 'cancelled');
    const error = cancelledError(reason);
    c.stmt(`UPDATE runs SET status = 'Cancelled', cancel_reason = @reason, error = @error, finished_at = @now,
        waiting_on = NULL, ${release} WHERE id = @id`).run({ id: s.runId, now, reason, error: JSON.stringify(error) });
    insertState(c, s.runId, row.attempt, 'Cancelled', now, { message: s.kind === 'cancel' && s.message ? s.message : reason });
    return;
  }
  switch (s.kind) {
    case 'complete':
      c.stmt(
        `UPDATE runs SET status = 'Completed', output = @output, error = NULL, finished_at = @now, ${release} WHERE id = @id`,
      ).run({
        id: s.runId,
        now,
        output: s.output,
      });
      insertState(c, s.runId, row.attempt, 'Completed', now);
      if (s.cache) recordCacheEntry(c, s.runId, s.output, s.cache, now);
      return;
    case 'cached':
      c.stmt(
        `UPDATE runs SET status = 'Cached', output = @output, error = NULL, finished_at = @now, ${release} WHERE id = @id`,
      ).run({ id: s.runId, now, output: s.output });
      insertState(c, s.runId, row.attempt, 'Cached', now, { message: `cached: the output of run ${s.sourceRunId}` });
      return;
    case 'retry': {
      forgetFailedSteps(c, s.runId);
      const until = now + s.delayMs;
      const waitingOn: StoredWaitingOn = {
        reason: 'retry-delay',
        message: `attempt ${row.attempt} failed; attempt ${row.attempt + 1} starts at ${new Date(until).toISOString()}`,
        until,
      };
      c.stmt(`UPDATE runs SET status = 'AwaitingRetry', attempt = attempt + 1, available_at = @until, error = @error,
          waiting_on = @waiting, ${release} WHERE id = @id`).run({
        id: s.runId,
        now,
        until,
        error: JSON.stringify(s.error),
        waiting: JSON.stringify(waitingOn),
      });
      insertState(c, s.runId, row.attempt + 1, 'AwaitingRetry', now, {
        message: `${s.isTimeout ? 'timed out' : 'failed'}: ${s.error.message}`,
        error: s.error,
        waitingOn,
      });
      return;
    }
    case 'fail':
      c.stmt(`UPDATE runs SET status = @status, error = @error, finished_at = @now, ${release} WHERE id = @id`).run({
        id: s.runId,
        now,
        status: next,
        error: JSON.stringify(s.error),
      });
      insertState(c, s.runId, row.attempt, next, now, { message: s.error.message, error: s.error });
      return;
    case 'release':
      c.stmt(`UPDATE runs SET status = 'Pending', available_at = @now, ${release} WHERE id = @id`).run({ id: s.runId, now });
      insertState(c, s.runId, row.attempt, 'Pending', now, { message: 'released by a stopping worker' });
      return;
    case 'suspend': {
      // The awaited run may have ended already: then wake at once.
      const awaited = s.waitForRunId
        ? (c.stmt('SELECT status FROM runs WHERE id = ?').get(s.waitForRunId) as { status: StateName } | undefined)
        : undefined;
      let wake = awaited && isTerminal(awaited.status) ? now : s.wakeAt;
      if (s.eventWait && registerEventWait(c, s.runId, namespaceOf(c, s.runId), s.eventWait)) wake = now;
      c.stmt(`UPDATE runs SET status = 'Waiting', wake_at = @wake, waiting_on = @waiting, ${release} WHERE id = @id`).run({
        id: s.runId,
        now,
        wake,
        waiting: JSON.stringify(s.waitingOn),
      });
      insertState(c, s.runId, row.attempt, 'Waiting', now, { message: s.waitingOn.message, waitingOn: s.waitingOn });
      return;
    }
    case 'skip':
      c.stmt(
        `UPDATE runs SET status = 'Skipped', output = NULL, error = NULL, finished_at = @now, ${release} WHERE id = @id`,
      ).run({
        id: s.runId,
        now,
      });
      insertState(c, s.runId, row.attempt, 'Skipped', now, { message: s.message });
      return;
    case 'cancel':
      return;
  }
}

export function saveCheckpoint(c: SqliteConnection, lease: LeaseRef, data: string): boolean {
  return (
    c
      .stmt(`UPDATE runs SET checkpoint = ?, updated_at = ? WHERE id = ? AND lease_epoch = ? AND ${IS_LEASED}`)
      .run(data, c.now(), lease.runId, lease.epoch).changes > 0
  );
}

export function setProgress(c: SqliteConnection, lease: LeaseRef, progress: number, message: string | null): boolean {
  return (
    c
      .stmt(
        `UPDATE runs SET progress = ?, progress_message = ?, updated_at = ? WHERE id = ? AND lease_epoch = ? AND ${IS_LEASED}`,
      )
      .run(progress, message, c.now(), lease.runId, lease.epoch).changes > 0
  );
}

export function setDeadline(c: SqliteConnection, lease: LeaseRef, deadlineAt: number | null): boolean {
  return (
    c
      .stmt(`UPDATE runs SET deadline_at = ? WHERE id = ? AND lease_epoch = ? AND ${IS_LEASED}`)
      .run(deadlineAt, lease.runId, lease.epoch).changes > 0
  );
}

export function appendStream(c: SqliteConnection, lease: LeaseRef, data: string): number | null {
  const fenced = c.stmt(`SELECT 1 FROM runs WHERE id = ? AND lease_epoch = ? AND ${IS_LEASED}`).get(lease.runId, lease.epoch);
  if (!fenced) return null;
  const row = c.stmt('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM stream_chunks WHERE run_id = ?').get(lease.runId) as {
    seq: number;
  };
  c.stmt('INSERT INTO stream_chunks (run_id, seq, data, at) VALUES (?, ?, ?, ?)').run(lease.runId, row.seq, data, c.now());
  return row.seq;
}

function namespaceOf(c: SqliteConnection, runId: string): string {
  return (c.stmt('SELECT namespace FROM runs WHERE id = ?').get(runId) as { namespace: string }).namespace;
}
