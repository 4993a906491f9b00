/**
 * Writes made by a running attempt, each fenced by its lease epoch: lease
 * renewal, logs, checkpoints, progress, deadline and stream chunks. A write
 * whose epoch is not the run's current one changes nothing.
 */
import type { CancelNotice, LeaseRef, LeaseRenewal, NewLog } from '../types.js';
import { PREPARED, type Tx } from './connection.js';

const LEASED = `status IN ('Running', 'Retrying', 'Cancelling')`;

export async function renewLeases(
  tx: Tx,
  request: { workerId: string; leaseMs: number; leases: readonly LeaseRef[] },
): Promise<LeaseRenewal> {
  const { t, now } = tx;
  // A renewal lost in a database crash is redone by the next heartbeat (the WAL writer flushes within 600 ms).
  tx.skipCommitFlush();
  await tx.query(`UPDATE ${t.workers} SET heartbeat_at = $1 WHERE id = $2`, [now, request.workerId], PREPARED);
  const lost: string[] = [];
  if (request.leases.length > 0) {
    // Lock in id order, like settlements, so the two never deadlock.
    const renewed = await tx.query<{ id: string }>(
      `WITH held AS (
         SELECT r.id FROM ${t.runs} r
         JOIN unnest($1::text[], $2::bigint[]) AS l(id, epoch) ON r.id = l.id AND r.lease_epoch = l.epoch
         WHERE r.${LEASED}
         ORDER BY r.id FOR UPDATE OF r
       )
       UPDATE ${t.runs} r SET lease_expires_at = $3 FROM held WHERE r.id = held.id RETURNING r.id`,
      [request.leases.map((l) => l.runId), request.leases.map((l) => l.epoch), now + request.leaseMs],
      PREPARED,
    );
    const kept = new Set(renewed.rows.map((row) => row.id));
    for (const lease of request.leases) if (!kept.has(lease.runId)) lost.push(lease.runId);
  }
  const epochs = new Map(request.leases.map((l) => [l.runId, l.epoch]));
  const cancelling = await tx.query<{
    id: string;
    lease_epoch: number;
    cancel_reason: string | null;
    cancel_requested_at: number;
  }>(
    `SELECT id, lease_epoch, cancel_reason, cancel_requested_at FROM ${t.runs} WHERE lease_owner = $1 AND status = 'Cancelling'`,
    [request.workerId],
    PREPARED,
  );
  const cancelRequested: CancelNotice[] = cancelling.rows
    .filter((row) => epochs.get(row.id) === row.lease_epoch)
    .map((row) => ({ runId: row.id, reason: row.cancel_reason ?? 'cancelled', requestedAt: row.cancel_requested_at }));
  return { lost, cancelRequested };
}

/** Inserts logs in write order, dropping those whose epoch is stale (one statement). */
export async function insertLogs(tx: Tx, logs: readonly NewLog[]): Promise<void> {
  if (logs.length === 0) return;
  const rows = logs.map((l) => ({
    run_id: l.runId,
    epoch: l.epoch,
    attempt: l.attempt,
    at: l.time,
    level: l.level,
    message: l.message,
    fields: l.fields,
  }));
  await tx.query(
    `INSERT INTO ${tx.t.logs} (run_id, attempt, at, level, message, fields)
     SELECT x.run_id, x.attempt, x.at, x.level, x.message, x.fields
     FROM ROWS FROM (json_to_recordset($1::json) AS (run_id text, epoch bigint, attempt integer, at bigint, level text,
       message text, fields json)) WITH ORDINALITY AS x(run_id, epoch, attempt, at, level, message, fields, ord)
     WHERE EXISTS (SELECT 1 FROM ${tx.t.runs} r WHERE r.id = x.run_id AND r.lease_epoch = x.epoch)
     ORDER BY x.ord`,
    [JSON.stringify(rows)],
  );
}

export async function saveCheckpoint(tx: Tx, lease: LeaseRef, data: string): Promise<boolean> {
  const result = await tx.query(
    `UPDATE ${tx.t.runs} SET checkpoint = $1, updated_at = $2 WHERE id = $3 AND lease_epoch = $4 AND ${LEASED}`,
    [data, tx.now, lease.runId, lease.epoch],
  );
  return (result.rowCount ?? 0) > 0;
}

export async function setProgress(tx: Tx, lease: LeaseRef, progress: number, message: string | null): Promise<boolean> {
  const result = await tx.query(
    `UPDATE ${tx.t.runs} SET progress = $1, progress_message = $2, updated_at = $3
     WHERE id = $4 AND lease_epoch = $5 AND ${LEASED}`,
    [progress, message, tx.now, lease.runId, lease.epoch],
  );
  return (result.rowCount ?? 0) > 0;
}

export async function setDeadline(tx: Tx, lease: LeaseRef, deadlineAt: number | null): Promise<boolean> {
  const result = await tx.query(`UPDATE ${tx.t.runs} SET deadline_at = $1 WHERE id = $2 AND lease_epoch = $3 AND ${LEASED}`, [
    deadlineAt,
    lease.runId,
    lease.epoch,
  ]);
  return (result.rowCount ?? 0) > 0;
}

export async function appendStream(tx: Tx, lease: LeaseRef, data: string): Promise<number | null> {
  // Locking the run row serializes appends, so sequence numbers never collide.
  const fenced = await tx.query(`SELECT 1 FROM ${tx.t.runs} WHERE id = $1 AND lease_epoch = $2 AND ${LEASED} FOR UPDATE`, [
    lease.runId,
    lease.epoch,
  ]);
  if (!fenced.rowCount) return null;
  const inserted = await tx.query<{ seq: number }>(
    `INSERT INTO ${tx.t.streams} (run_id, seq, data, at)
     SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3 FROM ${tx.t.streams} WHERE run_id = $1 RETURNING seq`,
    [lease.runId, data, tx.now],
  );
  return inserted.rows[0]?.seq ?? null;
}
