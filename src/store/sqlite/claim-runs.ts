/**
 * Claims up to `limit` due runs of the worker's tasks, in one transaction: runs
 * with flow-control rules first, through admission (engine/flow-control), then
 * plain runs in claim order (priority, then due-time, then id). Each gets a new
 * lease epoch, an attempt row and a Running/Retrying state row.
 */
import { admit } from '../../engine/flow-control.js';
import { runningStateFor } from '../../engine/states.js';
import type { ClaimRequest, RunRow } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { loadCandidates, loadSnapshot, recordAdmission } from './flow.js';
import { RUN_COLUMNS, runRowsOfValues, type SqlRunRow, toRunRow } from './rows.js';
import { insertState } from './state-writes.js';
import { IS_QUEUED } from './status-sql.js';

const CLAIMED = `status = CASE WHEN attempt = 0 THEN 'Running' ELSE 'Retrying' END,
    lease_epoch = lease_epoch + 1,
    lease_owner = @worker,
    lease_expires_at = @now + @lease,
    started_at = COALESCE(started_at, @now),
    schedule_deadline_at = NULL,
    waiting_on = NULL,
    deadline_at = NULL,
    updated_at = @now`;

const CLAIM_SQL = `UPDATE runs SET ${CLAIMED}
  WHERE id IN (
    SELECT id FROM runs INDEXED BY runs_queue
    WHERE namespace = @namespace
      AND ${IS_QUEUED}
      AND gate IS NULL
      AND available_at <= @now
      AND (schedule_deadline_at IS NULL OR schedule_deadline_at > @now)
      AND queue_key IN (SELECT value FROM json_each(@tasks))
    ORDER BY priority DESC, available_at, id
    LIMIT @limit)
  RETURNING ${RUN_COLUMNS}`;

const CLAIM_ONE_SQL = `UPDATE runs SET ${CLAIMED}
  WHERE id = @id AND ${IS_QUEUED}
  RETURNING ${RUN_COLUMNS}, workflow_run_id AS wf`;

/** How many runs of one group admission looks at per claim, and in all. */
const PER_GROUP = 64;
const CANDIDATE_CAP = 512;

/** Durable sleepers and waiters whose time has come go back to the queue first. */
function wakeSleepers(c: SqliteConnection, namespace: string, tasks: string, now: number): void {
  const due = c
    .stmt(`UPDATE runs SET status = 'Pending', available_at = wake_at, wake_at = NULL, waiting_on = NULL, updated_at = @now
      WHERE id IN (SELECT id FROM runs INDEXED BY runs_sleeping
        WHERE namespace = @namespace AND status = 'Waiting' AND wake_at IS NOT NULL AND wake_at <= @now
          AND queue_key IN (SELECT value FROM json_each(@tasks)))
      RETURNING id, attempt`)
    .all({ namespace, now, tasks }) as { id: string; attempt: number }[];
  for (const run of due) insertState(c, run.id, run.attempt, 'Pending', now, { message: 'woke up' });
}

function hasGatedWork(c: SqliteConnection, namespace: string, now: number): boolean {
  return (
    c
      .stmt(`SELECT 1 FROM runs INDEXED BY runs_gated WHERE namespace = ? AND ${IS_QUEUED}
        AND gate IS NOT NULL AND available_at <= ? LIMIT 1`)
      .get(namespace, now) !== undefined
  );
}

function claimGated(c: SqliteConnection, request: ClaimRequest, tasks: string, now: number): RunRow[] {
  if (!hasGatedWork(c, request.namespace, now)) return [];
  const candidates = loadCandidates(c, request.namespace, tasks, now, Math.min(PER_GROUP, request.limit), CANDIDATE_CAP);
  if (candidates.length === 0) return [];
  const snapshot = loadSnapshot(c, request.namespace, candidates, now);
  const worker = { id: request.workerId, labels: request.labels ?? {}, taskNames: request.taskNames };
  const admissions = admit(candidates, snapshot, worker, request.limit);
  const byId = new Map(candidates.map((cand) => [cand.id, cand]));
  const claimOne = c.stmt(CLAIM_ONE_SQL);
  const runs: RunRow[] = [];
  const recorded: Parameters<typeof recordAdmission>[3][number][] = [];
  const workflowOf = new Map<string, string>();
  for (const admission of admissions) {
    const row = claimOne.get({ id: admission.id, worker: request.workerId, now, lease: request.leaseMs }) as
      | (SqlRunRow & { wf: string })
      | undefined;
    if (!row) continue;
    runs.push(toRunRow(row));
    workflowOf.set(row.id, row.wf);
    recorded.push({
      candidate: byId.get(admission.id) as (typeof candidates)[number],
      takes: admission.takes,
      hits: admission.hits,
    });
  }
  recordAdmission(c, request.namespace, request.workerId, recorded, workflowOf, now);
  return runs;
}

export function claimRuns(c: SqliteConnection, request: ClaimRequest): RunRow[] {
  if (request.limit <= 0 || request.taskNames.length === 0) return [];
  const now = c.now();
  const tasks = JSON.stringify(request.taskNames);
  wakeSleepers(c, request.namespace, tasks, now);
  const gated = claimGated(c, request, tasks, now);
  const plain =
    request.limit > gated.length
      ? runRowsOfValues(
          c
            .stmt(CLAIM_SQL)
            .raw(true)
            .all({
              worker: request.workerId,
              now,
              lease: request.leaseMs,
              namespace: request.namespace,
              tasks,
              limit: request.limit - gated.length,
            }) as unknown[][],
        ).map(toRunRow)
      : [];
  const runs = [...gated, ...plain];
  const insertAttempt = c.stmt('INSERT INTO attempts (run_id, epoch, attempt, worker_id, started_at) VALUES (?, ?, ?, ?, ?)');
  for (const run of runs) {
    insertAttempt.run(run.id, run.leaseEpoch, run.attempt, request.workerId, now);
    insertState(c, run.id, run.attempt, runningStateFor(run.attempt), now);
  }
  return runs.sort((a, b) => b.priority - a.priority || a.availableAt - b.availableAt || (a.id < b.id ? -1 : 1));
}
