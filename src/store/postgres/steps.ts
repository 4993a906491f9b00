/** Recorded steps of durable tasks: load in call order, record (first writer wins, fenced). */
import type { SerializedError } from '../../errors.js';
import type { LeaseRef, NewStep, StepKind, StepRow } from '../types.js';
import type { PgConnection, Tx } from './connection.js';

interface PgStepRow {
  run_id: string;
  step_key: string;
  seq: number;
  kind: string;
  output: string | null;
  error: SerializedError | null;
  attempt: number;
  created_at: number;
}

export async function loadSteps(c: PgConnection, runId: string): Promise<StepRow[]> {
  const result = await c.query<PgStepRow>(
    `SELECT run_id, step_key, seq, kind, output, error, attempt, created_at FROM ${c.t.steps} WHERE run_id = $1 ORDER BY seq`,
    [runId],
  );
  return result.rows.map((row) => ({
    runId: row.run_id,
    key: row.step_key,
    seq: Number(row.seq),
    kind: row.kind as StepKind,
    output: row.output,
    error: row.error,
    attempt: Number(row.attempt),
    createdAt: Number(row.created_at),
  }));
}

export async function recordSteps(tx: Tx, lease: LeaseRef, steps: readonly NewStep[]): Promise<boolean> {
  // Lock the run row: a settlement or takeover of this lease cannot interleave with the record.
  const leased = await tx.query(
    `SELECT 1 FROM ${tx.t.runs} WHERE id = $1 AND lease_epoch = $2 AND status IN ('Running', 'Retrying', 'Cancelling') FOR UPDATE`,
    [lease.runId, lease.epoch],
  );
  if ((leased.rowCount ?? 0) === 0) return false;
  if (steps.length === 0) return true;
  await tx.query(
    `INSERT INTO ${tx.t.steps} (run_id, step_key, seq, kind, output, error, attempt, epoch, created_at)
     SELECT $1, s.key, s.seq, s.kind, s.output, s.error, s.attempt, $2, $3
     FROM json_to_recordset($4::json) AS s(key text, seq integer, kind text, output text, error json, attempt integer)
     ON CONFLICT (run_id, step_key) DO NOTHING`,
    [lease.runId, lease.epoch, tx.now, JSON.stringify(steps)],
  );
  return true;
}

/** A retry runs failed steps again: their recorded errors are dropped, successes stay. */
export async function forgetFailedSteps(tx: Tx, runId: string): Promise<void> {
  await tx.query(`DELETE FROM ${tx.t.steps} WHERE run_id = $1 AND error IS NOT NULL`, [runId]);
}
