/**
 * Claims up to `limit` due runs of the worker's tasks in claim order (priority,
 * then due-time, then id) with FOR UPDATE SKIP LOCKED, so concurrent workers
 * never wait on each other or claim the same run. One statement takes the
 * runs, gives each a new lease epoch and writes its attempt and
 * Running/Retrying state rows.
 */
import type { ClaimRequest, RunRow } from '../types.js';
import type { Tx } from './connection.js';
import { type PgRunRow, RUN_COLUMNS, runColumns, toRunRow } from './rows.js';

export async function claimRuns(tx: Tx, request: ClaimRequest): Promise<RunRow[]> {
  if (request.limit <= 0 || request.taskNames.length === 0) return [];
  const { t, now } = tx;
  // Durable sleepers and waiters whose time has come go back to the queue first.
  await tx.query(
    `WITH due AS (
       SELECT id FROM ${t.runs}
       WHERE namespace = $1 AND status = 'Waiting' AND wake_at IS NOT NULL AND wake_at <= $2 AND queue_key = ANY($3::text[])
       FOR UPDATE SKIP LOCKED
     ), woke AS (
       UPDATE ${t.runs} r SET status = 'Pending', available_at = r.wake_at, wake_at = NULL, waiting_on = NULL, updated_at = $2
       FROM due WHERE r.id = due.id
       RETURNING r.id, r.attempt
     )
     INSERT INTO ${t.states} (run_id, attempt, type, name, at, message)
     SELECT id, attempt, 'PENDING', 'Pending', $2, 'woke up' FROM woke`,
    [request.namespace, now, request.taskNames],
  );
  const result = await tx.query<PgRunRow>(
    `WITH picked AS (
       SELECT id FROM ${t.runs}
       WHERE namespace = $1
         AND status IN ('Scheduled', 'Pending', 'AwaitingRetry')
         AND available_at <= $2
         AND (schedule_deadline_at IS NULL OR schedule_deadline_at > $2)
         AND queue_key = ANY($3::text[])
       ORDER BY priority DESC, available_at, id
       LIMIT $4
       FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE ${t.runs} r SET
         status = CASE WHEN r.attempt = 0 THEN 'Running' ELSE 'Retrying' END,
         lease_epoch = r.lease_epoch + 1,
         lease_owner = $5,
         lease_expires_at = $2 + $6::bigint,
         started_at = COALESCE(r.started_at, $2),
         schedule_deadline_at = NULL,
         waiting_on = NULL,
         deadline_at = NULL,
         updated_at = $2
       FROM picked WHERE r.id = picked.id
       RETURNING ${runColumns('r')}
     ), attempts AS (
       INSERT INTO ${t.attempts} (run_id, epoch, attempt, worker_id, started_at)
       SELECT id, lease_epoch, attempt, $5, $2 FROM claimed
     ), states AS (
       INSERT INTO ${t.states} (run_id, attempt, type, name, at)
       SELECT id, attempt, 'RUNNING', status, $2 FROM claimed ORDER BY priority DESC, available_at, id
     )
     SELECT ${RUN_COLUMNS} FROM claimed ORDER BY priority DESC, available_at, id`,
    [request.namespace, now, request.taskNames, request.limit, request.workerId, request.leaseMs],
  );
  return result.rows.map(toRunRow);
}
