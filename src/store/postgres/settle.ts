/**
 * Settles a batch of attempts in one transaction: logs first, then each run,
 * fenced by its lease epoch. The runs are locked (FOR UPDATE, in id order)
 * before `settledState()` decides, so a concurrent cancel or sweep is seen.
 * Completions, the common case, are written with one statement per batch.
 */

import { attemptOutcomeOf, cancelledError, settledState } from '../../engine/run-rules.js';
import { isTerminal, LEASED_STATES } from '../../engine/states.js';
import type { StateName } from '../../engine/types.js';
import type { NewLog, Settlement, StoredWaitingOn } from '../types.js';
import { advanceWorkflows } from './advance-workflow.js';
import { insertLogs } from './attempt-writes.js';
import { recordCacheEntry } from './cache.js';
import { PREPARED, type Tx } from './connection.js';
import { type AttemptEnd, closeAttempts, insertStates, type NewState } from './state-writes.js';
import { forgetFailedSteps, registerEventWait } from './steps.js';

interface LockedRow {
  id: string;
  namespace: string;
  status: StateName;
  attempt: number;
  lease_epoch: number;
  cancel_reason: string | null;
  workflow_run_id: string;
  has_flow: boolean;
}

const RELEASE = 'lease_owner = NULL, lease_expires_at = NULL, deadline_at = NULL, updated_at = $2';

export async function settle(tx: Tx, logs: readonly NewLog[], settlements: readonly Settlement[]): Promise<(StateName | null)[]> {
  await insertLogs(tx, logs);
  if (settlements.length === 0) return [];
  const { t, now } = tx;
  const ids = [...new Set(settlements.map((s) => s.runId))];
  const locked = await tx.query<LockedRow>(
    `SELECT id, namespace, status, attempt, lease_epoch, cancel_reason, workflow_run_id, flow IS NOT NULL AS has_flow FROM ${t.runs}
     WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
    [ids],
    PREPARED,
  );
  const rows = new Map(locked.rows.map((row) => [row.id, row]));
  const completed: { id: string; output: string | null }[] = [];
  const states: NewState[] = [];
  const ends: AttemptEnd[] = [];
  const others: (() => Promise<unknown>)[] = [];
  // Workflow runs with a DAG task that ended here: advanced after every write of the batch.
  const workflows: string[] = [];
  const results = settlements.map((s): StateName | null => {
    const row = rows.get(s.runId);
    if (!row || row.lease_epoch !== s.epoch || !LEASED_STATES.includes(row.status)) return null;
    const next = settledState(row.status, s.kind, s.kind === 'fail' ? s.stateName : undefined);
    if (!next) return null;
    const attempt = row.attempt;
    if (next === 'Cancelled') {
      const reason = row.cancel_reason ?? (s.kind === 'cancel' ? s.reason : 'cancelled');
      others.push(() =>
        tx.query(
          `UPDATE ${t.runs} SET status = 'Cancelled', cancel_reason = $3, error = $4, finished_at = $2, waiting_on = NULL,
             ${RELEASE} WHERE id = $1`,
          [s.runId, now, reason, JSON.stringify(cancelledError(reason))],
        ),
      );
      states.push({
        runId: s.runId,
        attempt,
        name: 'Cancelled',
        at: now,
        message: s.kind === 'cancel' && s.message ? s.message : reason,
      });
    } else if (s.kind === 'complete') {
      completed.push({ id: s.runId, output: s.output });
      const cache = s.cache;
      if (cache) others.push(() => recordCacheEntry(tx, s.runId, s.output, cache));
      states.push({ runId: s.runId, attempt, name: 'Completed', at: now });
    } else if (s.kind === 'cached') {
      others.push(() =>
        tx.query(
          `UPDATE ${t.runs} SET status = 'Cached', output = $3, error = NULL, finished_at = $2, ${RELEASE} WHERE id = $1`,
          [s.runId, now, s.output],
        ),
      );
      states.push({ runId: s.runId, attempt, name: 'Cached', at: now, message: `cached: the output of run ${s.sourceRunId}` });
    } else if (s.kind === 'retry') {
      others.push(() => forgetFailedSteps(tx, s.runId));
      const until = now + s.delayMs;
      const waitingOn: StoredWaitingOn = {
        reason: 'retry-delay',
        message: `attempt ${attempt} failed; attempt ${attempt + 1} starts at ${new Date(until).toISOString()}`,
        until,
      };
      others.push(() =>
        tx.query(
          `UPDATE ${t.runs} SET status = 'AwaitingRetry', attempt = attempt + 1, available_at = $3, error = $4,
             waiting_on = $5, ${RELEASE} WHERE id = $1`,
          [s.runId, now, until, JSON.stringify(s.error), JSON.stringify(waitingOn)],
        ),
      );
      states.push({
        runId: s.runId,
        attempt: attempt + 1,
        name: 'AwaitingRetry',
        at: now,
        message: `${s.isTimeout ? 'timed out' : 'failed'}: ${s.error.message}`,
        error: s.error,
        waitingOn,
      });
      row.attempt = attempt + 1;
    } else if (s.kind === 'fail') {
      others.push(() =>
        tx.query(`UPDATE ${t.runs} SET status = $3, error = $4, finished_at = $2, ${RELEASE} WHERE id = $1`, [
          s.runId,
          now,
          next,
          JSON.stringify(s.error),
        ]),
      );
      states.push({ runId: s.runId, attempt, name: next, at: now, message: s.error.message, error: s.error });
    } else if (s.kind === 'release') {
      others.push(() =>
        tx.query(`UPDATE ${t.runs} SET status = 'Pending', available_at = $2, ${RELEASE} WHERE id = $1`, [s.runId, now]),
      );
      states.push({ runId: s.runId, attempt, name: 'Pending', at: now, message: 'released by a stopping worker' });
    } else if (s.kind === 'suspend') {
      // The awaited run may have ended already: then wake at once.
      others.push(async () => {
        // Lock the awaited run first: its ending either committed before (the EXISTS below sees it)
        // or waits for this commit (then its wake-up sees this run Waiting). Without the lock, both
        // statements read the other's old row under READ COMMITTED and the wake-up is lost.
        if (s.waitForRunId) await tx.query(`SELECT 1 FROM ${t.runs} WHERE id = $1 FOR SHARE`, [s.waitForRunId]);
        const eventArrived = s.eventWait ? await registerEventWait(tx, s.runId, row.namespace, s.eventWait) : false;
        return tx.query(
          `UPDATE ${t.runs} SET status = 'Waiting', waiting_on = $4, ${RELEASE},
             wake_at = CASE WHEN EXISTS (SELECT 1 FROM ${t.runs} a WHERE a.id = $5::text
               AND a.status IN ('Completed', 'Cached', 'Skipped', 'Failed', 'TimedOut', 'Crashed', 'Cancelled')) THEN $2::bigint ELSE $3::bigint END
           WHERE id = $1`,
          [s.runId, now, eventArrived ? now : s.wakeAt, JSON.stringify(s.waitingOn), s.waitForRunId ?? null],
        );
      });
      states.push({ runId: s.runId, attempt, name: 'Waiting', at: now, message: s.waitingOn.message, waitingOn: s.waitingOn });
    } else if (s.kind === 'skip') {
      others.push(() =>
        tx.query(
          `UPDATE ${t.runs} SET status = 'Skipped', output = NULL, error = NULL, finished_at = $2, ${RELEASE} WHERE id = $1`,
          [s.runId, now],
        ),
      );
      states.push({ runId: s.runId, attempt, name: 'Skipped', at: now, message: s.message });
    } else {
      return null;
    }
    ends.push({ runId: s.runId, epoch: s.epoch, outcome: attemptOutcomeOf(s.kind, next, s.kind === 'retry' && s.isTimeout) });
    row.status = next;
    if (row.workflow_run_id !== row.id && isTerminal(next)) workflows.push(row.workflow_run_id);
    tx.notify({ t: 'run', id: s.runId });
    // A run with flow-control rules that stops executing frees its concurrency keys: runs held back may start.
    if (next === 'AwaitingRetry' || next === 'Pending' || row.has_flow) tx.notify({ t: 'available', ns: row.namespace });
    return next;
  });
  if (completed.length > 0) {
    // `id = ANY(…)` shows the planner how few rows this touches: joined on the JSON rows alone, it
    // guesses 100 of them and may hash-join them against a scan of the whole table.
    await tx.query(
      `UPDATE ${t.runs} r SET status = 'Completed', output = x.output, error = NULL, finished_at = $2,
         lease_owner = NULL, lease_expires_at = NULL, deadline_at = NULL, updated_at = $2
       FROM json_to_recordset($1::json) AS x(id text, output text) WHERE r.id = x.id AND r.id = ANY($3::text[])`,
      [JSON.stringify(completed), now, completed.map((c) => c.id)],
      PREPARED,
    );
  }
  for (const write of others) await write();
  await insertStates(tx, states);
  await closeAttempts(tx, ends, now);
  await advanceWorkflows(tx, workflows);
  return results;
}
