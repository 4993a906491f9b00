/** Small writes shared by every SQLite operation: a state row, an attempt's end. */

import { typeOf } from '../../engine/run-rules.js';
import { isTerminal, LEASED_STATES } from '../../engine/states.js';
import type { StateName } from '../../engine/types.js';
import type { SerializedError } from '../../errors.js';
import type { AttemptOutcome, StoredWaitingOn } from '../types.js';
import type { SqliteConnection } from './connection.js';

export function insertState(
  c: SqliteConnection,
  runId: string,
  attempt: number,
  name: StateName,
  at: number,
  extra: { message?: string | null; error?: SerializedError | null; waitingOn?: StoredWaitingOn | null } = {},
): void {
  c.stmt(
    `INSERT INTO run_states (run_id, attempt, type, name, at, message, error, waiting_on)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    runId,
    attempt,
    typeOf(name),
    name,
    at,
    extra.message ?? null,
    extra.error ? JSON.stringify(extra.error) : null,
    extra.waitingOn ? JSON.stringify(extra.waitingOn) : null,
  );
  releaseFlowHolds(c, runId, name);
  // A durable parent waiting on this run (ctx.runChild) wakes when it ends.
  if (isTerminal(name)) {
    c.stmt(`UPDATE runs SET wake_at = ? WHERE status = 'Waiting' AND id = (SELECT parent_run_id FROM runs WHERE id = ?)
      AND json_extract(waiting_on, '$.childRunId') = ?`).run(at, runId, runId);
  }
}

/**
 * Every status change records a state row, so this is where a run that stops executing frees its
 * concurrency keys and a run that ends forgets them (the count stays exact). On SQLite this is not
 * a trigger: any trigger on `runs` makes every UPDATE of it about 3× slower (docs/decisions/0011-hot-path-costs.md).
 */
function releaseFlowHolds(c: SqliteConnection, runId: string, name: StateName): void {
  if (LEASED_STATES.includes(name)) return;
  if (isTerminal(name)) c.stmt('DELETE FROM flow_holds WHERE holder_id = ?').run(runId);
  else c.stmt('UPDATE flow_holds SET held = 0 WHERE holder_id = ? AND held = 1').run(runId);
}

export function closeAttempt(c: SqliteConnection, runId: string, epoch: number, outcome: AttemptOutcome, at: number): void {
  c.stmt('UPDATE attempts SET ended_at = ?, outcome = ? WHERE run_id = ? AND epoch = ? AND ended_at IS NULL').run(
    at,
    outcome,
    runId,
    epoch,
  );
}
