/** Recorded steps of durable tasks: load in call order, record (first writer wins, fenced). */
import type { SerializedError } from '../../errors.js';
import type { LeaseRef, NewStep, StepKind, StepRow, StepTransactionResult, UserTransaction } from '../types.js';
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
  return result.rows.map(toStepRow);
}

function toStepRow(row: PgStepRow): StepRow {
  return {
    runId: row.run_id,
    key: row.step_key,
    seq: Number(row.seq),
    kind: row.kind as StepKind,
    output: row.output,
    error: row.error,
    attempt: Number(row.attempt),
    createdAt: Number(row.created_at),
  };
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

class Rollback extends Error {}

/**
 * Runs `fn` on Baton's own connection inside the transaction that records the step:
 * the run row is locked first (fencing), the record is inserted last, one COMMIT.
 */
export async function runStepTransaction<T>(
  c: PgConnection,
  lease: LeaseRef,
  step: { key: string; seq: number; attempt: number },
  fn: (tx: UserTransaction) => Promise<T>,
  encode: (value: T) => string | null,
): Promise<StepTransactionResult<T>> {
  let result: StepTransactionResult<T> | undefined;
  try {
    await c.tx(async (tx) => {
      const leased = await tx.query(
        `SELECT 1 FROM ${tx.t.runs} WHERE id = $1 AND lease_epoch = $2 AND status IN ('Running', 'Retrying', 'Cancelling') FOR UPDATE`,
        [lease.runId, lease.epoch],
      );
      if ((leased.rowCount ?? 0) === 0) {
        result = { outcome: 'fenced' };
        throw new Rollback();
      }
      const user: UserTransaction = {
        async query<R>(sql: string, params: readonly unknown[] = []) {
          const res = await tx.query(sql, [...params]);
          return { rows: res.rows as R[], rowCount: res.rowCount ?? res.rows.length };
        },
      };
      const value = await fn(user);
      const inserted = await tx.query(
        `INSERT INTO ${tx.t.steps} (run_id, step_key, seq, kind, output, error, attempt, epoch, created_at)
         VALUES ($1, $2, $3, 'step', $4, NULL, $5, $6, $7) ON CONFLICT (run_id, step_key) DO NOTHING`,
        [lease.runId, step.key, step.seq, encode(value), step.attempt, lease.epoch, tx.now],
      );
      if ((inserted.rowCount ?? 0) === 0) {
        const existing = await tx.query<PgStepRow>(
          `SELECT run_id, step_key, seq, kind, output, error, attempt, created_at FROM ${tx.t.steps} WHERE run_id = $1 AND step_key = $2`,
          [lease.runId, step.key],
        );
        result = { outcome: 'exists', record: toStepRow(existing.rows[0] as PgStepRow) };
        throw new Rollback();
      }
      result = { outcome: 'committed', value };
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
  return result as StepTransactionResult<T>;
}
