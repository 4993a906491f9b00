/** Recorded steps of durable tasks: load in call order, record (first writer wins, fenced). */
import type { SerializedError } from '../../errors.js';
import type { LeaseRef, NewStep, StepKind, StepRow } from '../types.js';
import type { SqliteConnection } from './connection.js';

interface SqlStepRow {
  run_id: string;
  step_key: string;
  seq: number;
  kind: string;
  output: string | null;
  error: string | null;
  attempt: number;
  created_at: number;
}

export function loadSteps(c: SqliteConnection, runId: string): StepRow[] {
  return (
    c
      .stmt('SELECT run_id, step_key, seq, kind, output, error, attempt, created_at FROM steps WHERE run_id = ? ORDER BY seq')
      .all(runId) as SqlStepRow[]
  ).map((row) => ({
    runId: row.run_id,
    key: row.step_key,
    seq: row.seq,
    kind: row.kind as StepKind,
    output: row.output,
    error: row.error === null ? null : (JSON.parse(row.error) as SerializedError),
    attempt: row.attempt,
    createdAt: row.created_at,
  }));
}

export function recordSteps(c: SqliteConnection, lease: LeaseRef, steps: readonly NewStep[]): boolean {
  const leased = c
    .stmt(`SELECT 1 FROM runs WHERE id = ? AND lease_epoch = ? AND status IN ('Running', 'Retrying', 'Cancelling')`)
    .get(lease.runId, lease.epoch);
  if (!leased) return false;
  const insert = c.stmt(`INSERT INTO steps (run_id, step_key, seq, kind, output, error, attempt, epoch, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, step_key) DO NOTHING`);
  const now = c.now();
  for (const step of steps) {
    insert.run(
      lease.runId,
      step.key,
      step.seq,
      step.kind,
      step.output,
      step.error ? JSON.stringify(step.error) : null,
      step.attempt,
      lease.epoch,
      now,
    );
  }
  return true;
}

/** A retry runs failed steps again: their recorded errors are dropped, successes stay. */
export function forgetFailedSteps(c: SqliteConnection, runId: string): void {
  c.stmt('DELETE FROM steps WHERE run_id = ? AND error IS NOT NULL').run(runId);
}
