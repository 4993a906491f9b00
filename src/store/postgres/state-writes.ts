/** Small writes shared by every PostgreSQL operation: state rows (in bulk) and an attempt's end. */

import { typeOf } from '../../engine/run-rules.js';
import { isTerminal } from '../../engine/states.js';
import type { StateName } from '../../engine/types.js';
import type { SerializedError } from '../../errors.js';
import type { AttemptOutcome, StoredWaitingOn } from '../types.js';
import { PREPARED, type Tx } from './connection.js';

export interface NewState {
  runId: string;
  attempt: number;
  name: StateName;
  at: number;
  message?: string | null;
  error?: SerializedError | null;
  waitingOn?: StoredWaitingOn | null;
}

/** Inserts state rows in array order (one statement). */
export async function insertStates(tx: Tx, states: readonly NewState[]): Promise<void> {
  if (states.length === 0) return;
  const rows = states.map((s) => ({
    run_id: s.runId,
    attempt: s.attempt,
    type: typeOf(s.name),
    name: s.name,
    at: s.at,
    message: s.message ?? null,
    error: s.error ?? null,
    waiting_on: s.waitingOn ?? null,
  }));
  await tx.query(
    `INSERT INTO ${tx.t.states} (run_id, attempt, type, name, at, message, error, waiting_on)
     SELECT run_id, attempt, type, name, at, message, error, waiting_on
     FROM json_to_recordset($1::json) AS x(run_id text, attempt integer, type text, name text, at bigint,
       message text, error json, waiting_on json)`,
    [JSON.stringify(rows)],
    PREPARED,
  );
  // A durable parent waiting on one of these runs (ctx.runChild) wakes when it ends.
  const ended = states.filter((s) => isTerminal(s.name)).map((s) => s.runId);
  if (ended.length > 0) {
    await tx.query(
      `UPDATE ${tx.t.runs} p SET wake_at = $2 FROM ${tx.t.runs} c
       WHERE c.id = ANY($1::text[]) AND p.id = c.parent_run_id AND p.status = 'Waiting' AND p.waiting_on->>'childRunId' = c.id`,
      [ended, tx.now],
      PREPARED,
    );
  }
}

export interface AttemptEnd {
  runId: string;
  epoch: number;
  outcome: AttemptOutcome;
}

/** Closes attempts (one statement); an attempt already closed keeps its outcome. `ANY(…)`: see settle.ts. */
export async function closeAttempts(tx: Tx, ends: readonly AttemptEnd[], at: number): Promise<void> {
  if (ends.length === 0) return;
  await tx.query(
    `UPDATE ${tx.t.attempts} a SET ended_at = $2, outcome = x.outcome
     FROM json_to_recordset($1::json) AS x(run_id text, epoch bigint, outcome text)
     WHERE a.run_id = x.run_id AND a.epoch = x.epoch AND a.run_id = ANY($3::text[]) AND a.ended_at IS NULL`,
    [JSON.stringify(ends.map((e) => ({ run_id: e.runId, epoch: e.epoch, outcome: e.outcome }))), at, ends.map((e) => e.runId)],
    PREPARED,
  );
}
