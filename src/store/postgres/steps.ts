/** Recorded steps of durable tasks: load in call order, record (first writer wins, fenced). */
import type { SerializedError } from '../../errors.js';
import type {
  EventRow,
  LeaseRef,
  NewStep,
  StepGroup,
  StepKind,
  StepRow,
  StepTransactionResult,
  UserTransaction,
} from '../types.js';
import { type PgConnection, PREPARED, type Tx } from './connection.js';

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
    PREPARED,
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

export async function recordSteps(tx: Tx, batch: readonly StepGroup[]): Promise<boolean[]> {
  if (batch.length === 0) return [];
  // Lock the runs (in id order, like settlements): a settlement or takeover of a lease cannot
  // interleave with its record.
  const leased = await tx.query<{ id: string; lease_epoch: number }>(
    `SELECT id, lease_epoch FROM ${tx.t.runs} WHERE id = ANY($1::text[]) AND status IN ('Running', 'Retrying', 'Cancelling')
     ORDER BY id FOR UPDATE`,
    [[...new Set(batch.map((group) => group.lease.runId))]],
    PREPARED,
  );
  const epochs = new Map(leased.rows.map((row) => [row.id, Number(row.lease_epoch)]));
  const fenced = batch.map((group) => epochs.get(group.lease.runId) === group.lease.epoch);
  const rows = batch.flatMap((group, i) =>
    fenced[i] ? group.steps.map((step) => ({ ...step, run_id: group.lease.runId, epoch: group.lease.epoch })) : [],
  );
  if (rows.length > 0) {
    await tx.query(
      `INSERT INTO ${tx.t.steps} (run_id, step_key, seq, kind, output, error, attempt, epoch, created_at)
       SELECT s.run_id, s.key, s.seq, s.kind, s.output, s.error, s.attempt, s.epoch, $1
       FROM json_to_recordset($2::json)
         AS s(run_id text, epoch bigint, key text, seq integer, kind text, output text, error json, attempt integer)
       ON CONFLICT (run_id, step_key) DO NOTHING`,
      [tx.now, JSON.stringify(rows)],
      PREPARED,
    );
  }
  return fenced;
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
          const res = await tx.userQuery(sql, [...params]);
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

export async function findWaitEvents(
  c: PgConnection,
  namespace: string,
  runId: string,
  keys: readonly string[],
  since: number,
  limit: number,
): Promise<EventRow[]> {
  const result = await c.query<{
    id: string;
    namespace: string;
    key: string;
    payload: string | null;
    metadata: unknown;
    time: string;
  }>(
    `SELECT id, namespace, key, payload, metadata, time FROM ${c.t.events}
     WHERE namespace = $1 AND key = ANY($2::text[]) AND time >= $3
       AND id NOT IN (SELECT event_id FROM ${c.t.consumptions} WHERE run_id = $4)
     ORDER BY time, id LIMIT $5`,
    [namespace, [...keys], since, runId, limit],
  );
  return result.rows.map((row) => ({
    id: row.id,
    namespace: row.namespace,
    key: row.key,
    payload: row.payload,
    metadata: (typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata) as Record<string, unknown>,
    time: Number(row.time),
  }));
}

export async function resolveWait(tx: Tx, lease: LeaseRef, step: NewStep, eventIds: readonly string[]): Promise<boolean> {
  if (!(await recordSteps(tx, [{ lease, steps: [step] }]))[0]) return false;
  if (eventIds.length > 0) {
    await tx.query(`INSERT INTO ${tx.t.consumptions} (run_id, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, [
      lease.runId,
      [...eventIds],
    ]);
  }
  await tx.query(`DELETE FROM ${tx.t.eventWaits} WHERE run_id = $1`, [lease.runId]);
  return true;
}

/**
 * Serializes a push of an event key with durable waits registering on it (until their transactions
 * end): either the push commits first and the wait's check for arrived events sees it, or the push
 * waits, then sees the run Waiting and wakes it. Under READ COMMITTED alone both can miss each other.
 * Locks are taken in hash order (as flow.ts does), so lockers never deadlock.
 */
export async function lockEventKeys(tx: Tx, namespace: string, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  const names = keys.map((key) => JSON.stringify(['baton', tx.t.runs, 'event', namespace, key]));
  await tx.query(
    `SELECT pg_advisory_xact_lock(x.h) FROM (SELECT DISTINCT hashtextextended(n, 0) AS h FROM unnest($1::text[]) AS n) x
     ORDER BY x.h`,
    [names],
  );
}

/** Registers a suspended run's event keys; true when a new matching-key event already arrived. */
export async function registerEventWait(
  tx: Tx,
  runId: string,
  namespace: string,
  wait: { keys: string[]; since: number; seenEventIds: string[] },
): Promise<boolean> {
  await lockEventKeys(tx, namespace, wait.keys);
  await tx.query(`DELETE FROM ${tx.t.eventWaits} WHERE run_id = $1`, [runId]);
  await tx.query(
    `INSERT INTO ${tx.t.eventWaits} (run_id, namespace, event_key)
     SELECT $1, r.namespace, k FROM ${tx.t.runs} r, unnest($2::text[]) AS k WHERE r.id = $1 ON CONFLICT DO NOTHING`,
    [runId, wait.keys],
  );
  const unseen = await tx.query(
    `SELECT 1 FROM ${tx.t.events} e, ${tx.t.runs} r
     WHERE r.id = $1 AND e.namespace = r.namespace AND e.key = ANY($2::text[]) AND e.time >= $3
       AND NOT (e.id = ANY($4::text[]))
       AND e.id NOT IN (SELECT event_id FROM ${tx.t.consumptions} WHERE run_id = $1) LIMIT 1`,
    [runId, wait.keys, wait.since, wait.seenEventIds],
  );
  return (unseen.rowCount ?? 0) > 0;
}
