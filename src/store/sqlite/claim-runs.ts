/**
 * Claims up to `limit` due runs of the worker's tasks in claim order (priority,
 * then due-time, then id), in one transaction: each gets a new lease epoch, an
 * attempt row and a Running/Retrying state row.
 */
import { runningStateFor } from '../../engine/states.js';
import type { ClaimRequest, RunRow } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { RUN_COLUMNS, type SqlRunRow, toRunRow } from './rows.js';
import { insertState } from './state-writes.js';

const CLAIM_SQL = `UPDATE runs SET
    status = CASE WHEN attempt = 0 THEN 'Running' ELSE 'Retrying' END,
    lease_epoch = lease_epoch + 1,
    lease_owner = @worker,
    lease_expires_at = @now + @lease,
    started_at = COALESCE(started_at, @now),
    schedule_deadline_at = NULL,
    waiting_on = NULL,
    deadline_at = NULL,
    updated_at = @now
  WHERE id IN (
    SELECT id FROM runs INDEXED BY runs_queue
    WHERE namespace = @namespace
      AND status IN ('Scheduled', 'Pending', 'AwaitingRetry')
      AND available_at <= @now
      AND (schedule_deadline_at IS NULL OR schedule_deadline_at > @now)
      AND queue_key IN (SELECT value FROM json_each(@tasks))
    ORDER BY priority DESC, available_at, id
    LIMIT @limit)
  RETURNING ${RUN_COLUMNS}`;

/** Durable sleepers and waiters whose time has come go back to the queue first. */
function wakeSleepers(c: SqliteConnection, namespace: string, tasks: string, now: number): void {
  const due = c
    .stmt(`UPDATE runs SET status = 'Pending', available_at = wake_at, wake_at = NULL, waiting_on = NULL, updated_at = @now
      WHERE id IN (SELECT id FROM runs INDEXED BY runs_sleeping
        WHERE namespace = @namespace AND status = 'Waiting' AND wake_at IS NOT NULL AND wake_at <= @now
          AND queue_key IN (SELECT value FROM json_each(@tasks)))
      RETURNING id, attempt`)
    .all({ namespace, now, tasks }) as { id: string; attempt: number }[];
  for (const run of due) insertState(c, run.id, run.attempt, 'Pending', now, { message: 'woke up' });
}

export function claimRuns(c: SqliteConnection, request: ClaimRequest): RunRow[] {
  if (request.limit <= 0 || request.taskNames.length === 0) return [];
  const now = c.now();
  wakeSleepers(c, request.namespace, JSON.stringify(request.taskNames), now);
  const rows = c.stmt(CLAIM_SQL).all({
    worker: request.workerId,
    now,
    lease: request.leaseMs,
    namespace: request.namespace,
    tasks: JSON.stringify(request.taskNames),
    limit: request.limit,
  }) as SqlRunRow[];
  const runs = rows.map(toRunRow);
  const insertAttempt = c.stmt('INSERT INTO attempts (run_id, epoch, attempt, worker_id, started_at) VALUES (?, ?, ?, ?, ?)');
  for (const run of runs) {
    insertAttempt.run(run.id, run.leaseEpoch, run.attempt, request.workerId, now);
    insertState(c, run.id, run.attempt, runningStateFor(run.attempt), now);
  }
  return runs.sort((a, b) => b.priority - a.priority || a.availableAt - b.availableAt || (a.id < b.id ? -1 : 1));
}
