/** Recorded steps of durable tasks: load in call order, record (first writer wins, fenced). */
import type { SerializedError } from '../../errors.js';
import type { EventRow, LeaseRef, NewStep, StepKind, StepRow, StepTransactionResult, UserTransaction } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { IS_LEASED } from './status-sql.js';

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
  const leased = c.stmt(`SELECT 1 FROM runs WHERE id = ? AND lease_epoch = ? AND ${IS_LEASED}`).get(lease.runId, lease.epoch);
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

/** `$1, $2, …` placeholders become named `@p1, @p2, …`, bound from the positional values. */
function toSqlite(sql: string, params: readonly unknown[]): { sql: string; bound: Record<string, unknown> } {
  const bound: Record<string, unknown> = {};
  params.forEach((value, i) => {
    bound[`p${i + 1}`] = typeof value === 'boolean' ? Number(value) : value;
  });
  return { sql: sql.replace(/\$(\d+)/g, '@p$1'), bound };
}

export async function runStepTransaction<T>(
  c: SqliteConnection,
  lease: LeaseRef,
  step: { key: string; seq: number; attempt: number },
  fn: (tx: UserTransaction) => Promise<T>,
  encode: (value: T) => string | null,
): Promise<StepTransactionResult<T>> {
  class Rollback extends Error {}
  let result: StepTransactionResult<T> | undefined;
  try {
    await c.writeAsync(async () => {
      const leased = c.stmt(`SELECT 1 FROM runs WHERE id = ? AND lease_epoch = ? AND ${IS_LEASED}`).get(lease.runId, lease.epoch);
      if (!leased) {
        result = { outcome: 'fenced' };
        throw new Rollback();
      }
      const tx: UserTransaction = {
        async query<R>(sql: string, params: readonly unknown[] = []) {
          const converted = toSqlite(sql, params);
          const statement = c.db.prepare(converted.sql);
          const args = params.length > 0 ? [converted.bound] : [];
          if (statement.reader) {
            const rows = statement.all(...args) as R[];
            return { rows, rowCount: rows.length };
          }
          const info = statement.run(...args);
          return { rows: [] as R[], rowCount: info.changes };
        },
      };
      const value = await fn(tx);
      const output = encode(value);
      const inserted = c
        .stmt(`INSERT INTO steps (run_id, step_key, seq, kind, output, error, attempt, epoch, created_at)
          VALUES (?, ?, ?, 'step', ?, NULL, ?, ?, ?) ON CONFLICT (run_id, step_key) DO NOTHING`)
        .run(lease.runId, step.key, step.seq, output, step.attempt, lease.epoch, c.now());
      if (inserted.changes === 0) {
        const record = loadSteps(c, lease.runId).find((s) => s.key === step.key) as StepRow;
        result = { outcome: 'exists', record };
        throw new Rollback();
      }
      result = { outcome: 'committed', value };
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
  return result as StepTransactionResult<T>;
}

export function findWaitEvents(
  c: SqliteConnection,
  namespace: string,
  runId: string,
  keys: readonly string[],
  since: number,
  limit: number,
): EventRow[] {
  const rows = c
    .stmt(`SELECT id, namespace, key, payload, metadata, time FROM events
      WHERE namespace = ? AND key IN (SELECT value FROM json_each(?)) AND time >= ?
        AND id NOT IN (SELECT event_id FROM event_consumptions WHERE run_id = ?)
      ORDER BY time, id LIMIT ?`)
    .all(namespace, JSON.stringify(keys), since, runId, limit) as {
    id: string;
    namespace: string;
    key: string;
    payload: string | null;
    metadata: string;
    time: number;
  }[];
  return rows.map((row) => ({ ...row, metadata: JSON.parse(row.metadata) as Record<string, unknown> }));
}

export function resolveWait(c: SqliteConnection, lease: LeaseRef, step: NewStep, eventIds: readonly string[]): boolean {
  if (!recordSteps(c, lease, [step])) return false;
  const consume = c.stmt('INSERT INTO event_consumptions (run_id, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING');
  for (const id of eventIds) consume.run(lease.runId, id);
  c.stmt('DELETE FROM event_waits WHERE run_id = ?').run(lease.runId);
  return true;
}

/** Registers a suspended run's event keys; true when a new matching-key event already arrived. */
export function registerEventWait(
  c: SqliteConnection,
  runId: string,
  namespace: string,
  wait: { keys: string[]; since: number; seenEventIds: string[] },
): boolean {
  c.stmt('DELETE FROM event_waits WHERE run_id = ?').run(runId);
  const insert = c.stmt('INSERT INTO event_waits (run_id, namespace, event_key) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  for (const key of wait.keys) insert.run(runId, namespace, key);
  const unseen = c
    .stmt(`SELECT 1 FROM events WHERE namespace = ? AND key IN (SELECT value FROM json_each(?)) AND time >= ?
      AND id NOT IN (SELECT value FROM json_each(?))
      AND id NOT IN (SELECT event_id FROM event_consumptions WHERE run_id = ?) LIMIT 1`)
    .get(namespace, JSON.stringify(wait.keys), wait.since, JSON.stringify(wait.seenEventIds), runId);
  return unseen !== undefined;
}
