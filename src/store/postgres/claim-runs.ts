/**
 * Claims up to `limit` due runs of the worker's tasks: runs with flow-control
 * rules first, through admission (engine/flow-control), then plain runs in
 * claim order (priority, then due-time, then id) with FOR UPDATE SKIP LOCKED,
 * so concurrent workers never wait on each other or claim the same run. Each
 * claimed run gets a new lease epoch, an attempt row and a Running/Retrying
 * state row.
 *
 * Gated admissions of a namespace are serialized by an advisory lock (that is
 * what keeps concurrency counts and rate windows exact under many workers), so
 * they run in their own short transaction, taken only when gated work is due;
 * without any, the plain claim shares the first transaction.
 */
import { admit } from '../../engine/flow-control.js';
import type { ClaimRequest, RunRow } from '../types.js';
import { type PgConnection, PREPARED, type Tx } from './connection.js';
import { GATED_DUE, type GatedCandidate, loadCandidates, loadSnapshot, lockAdmission, recordAdmission } from './flow.js';
import { type PgRunRow, RUN_COLUMNS, runColumns, toRunRow } from './rows.js';

/** How many runs of one group admission looks at per claim, and in all. */
const PER_GROUP = 64;
const CANDIDATE_CAP = 512;

/** The claim's SET list; `now`, `worker` and `lease` are placeholders. */
function claimedSet(now: string, worker: string, lease: string): string {
  return `status = CASE WHEN r.attempt = 0 THEN 'Running' ELSE 'Retrying' END,
         lease_epoch = r.lease_epoch + 1,
         lease_owner = ${worker},
         lease_expires_at = ${now} + ${lease}::bigint,
         started_at = COALESCE(r.started_at, ${now}),
         schedule_deadline_at = NULL,
         waiting_on = NULL,
         deadline_at = NULL,
         updated_at = ${now}`;
}

/**
 * The CTEs that follow a `picked` CTE of run ids: claim them (new lease epoch, Running or
 * Retrying) and write their attempt and state rows (states in `order`). Placeholders are SQL text.
 */
function claimAndRecord(t: Tx['t'], p: { now: string; worker: string; lease: string; order: string }): string {
  return `claimed AS (
       UPDATE ${t.runs} r SET ${claimedSet(p.now, p.worker, p.lease)}
       FROM picked WHERE r.id = picked.id
       RETURNING ${runColumns('r')}
     ), attempts AS (
       INSERT INTO ${t.attempts} (run_id, epoch, attempt, worker_id, started_at)
       SELECT id, lease_epoch, attempt, ${p.worker}, ${p.now} FROM claimed
     ), states AS (
       INSERT INTO ${t.states} (run_id, attempt, type, name, at)
       SELECT id, attempt, 'RUNNING', status, ${p.now} FROM claimed ORDER BY ${p.order}
     )`;
}

export async function claimRuns(c: PgConnection, request: ClaimRequest): Promise<RunRow[]> {
  if (request.limit <= 0 || request.taskNames.length === 0) return [];
  const first = await c.tx(async (tx) => {
    const isGatedDue = await wakeSleepers(tx, request);
    if (!isGatedDue) {
      // Lost in a database crash, a plain claim is only undone: its worker's writes are then fenced.
      // Gated admissions (flow holds, rate-limit hits) are flushed as usual.
      tx.skipCommitFlush();
      return { isGated: false, runs: await claimPlain(tx, request, request.limit) };
    }
    await lockAdmission(tx, request.namespace);
    return { isGated: true, runs: await claimGated(tx, request) };
  });
  if (!first.isGated || first.runs.length >= request.limit) return first.runs;
  try {
    const plain = await c.tx((tx) => claimPlain(tx, request, request.limit - first.runs.length));
    return [...first.runs, ...plain];
  } catch (error) {
    // The gated runs are claimed already: they must reach the worker; plain ones wait for its next poll.
    if (first.runs.length > 0) return first.runs;
    throw error;
  }
}

/**
 * Durable sleepers and waiters whose time has come go back to the queue; in
 * the same statement, whether gated work of these tasks is due.
 */
async function wakeSleepers(tx: Tx, request: ClaimRequest): Promise<boolean> {
  const { t, now } = tx;
  const result = await tx.query<{ gated: boolean }>(
    `WITH due AS (
       SELECT id FROM ${t.runs}
       WHERE namespace = $1 AND status = 'Waiting' AND wake_at IS NOT NULL AND wake_at <= $2 AND queue_key = ANY($3::text[])
       FOR UPDATE SKIP LOCKED
     ), woke AS (
       UPDATE ${t.runs} r SET status = 'Pending', available_at = r.wake_at, wake_at = NULL, waiting_on = NULL, updated_at = $2
       FROM due WHERE r.id = due.id
       RETURNING r.id, r.attempt, r.gate
     ), states AS (
       INSERT INTO ${t.states} (run_id, attempt, type, name, at, message)
       SELECT id, attempt, 'PENDING', 'Pending', $2, 'woke up' FROM woke
     )
     SELECT EXISTS (SELECT 1 FROM woke WHERE gate IS NOT NULL)
       OR EXISTS (SELECT 1 FROM ${t.runs} WHERE ${GATED_DUE}) AS gated`,
    [request.namespace, now, request.taskNames],
    PREPARED,
  );
  return result.rows[0]?.gated === true;
}

async function claimPlain(tx: Tx, request: ClaimRequest, limit: number): Promise<RunRow[]> {
  const { t, now } = tx;
  const result = await tx.query<PgRunRow>(
    `WITH picked AS (
       SELECT id FROM ${t.runs}
       WHERE namespace = $1
         AND status IN ('Scheduled', 'Pending', 'AwaitingRetry')
         AND gate IS NULL
         AND available_at <= $2
         AND (schedule_deadline_at IS NULL OR schedule_deadline_at > $2)
         AND queue_key = ANY($3::text[])
       ORDER BY priority DESC, available_at, id
       LIMIT $4
       FOR UPDATE SKIP LOCKED
     ), ${claimAndRecord(t, { now: '$2', worker: '$5', lease: '$6', order: 'priority DESC, available_at, id' })}
     SELECT ${RUN_COLUMNS} FROM claimed ORDER BY priority DESC, available_at, id`,
    [request.namespace, now, request.taskNames, limit, request.workerId, request.leaseMs],
    PREPARED,
  );
  return result.rows.map(toRunRow);
}

/** Admission of gated runs; the caller holds the namespace's admission lock. Returns the runs in claim order. */
async function claimGated(tx: Tx, request: ClaimRequest): Promise<RunRow[]> {
  const { t, now } = tx;
  const candidates = await loadCandidates(
    tx,
    request.namespace,
    request.taskNames,
    Math.min(PER_GROUP, request.limit),
    CANDIDATE_CAP,
  );
  if (candidates.length === 0) return [];
  const snapshot = await loadSnapshot(tx, request.namespace, candidates);
  const worker = { id: request.workerId, labels: request.labels ?? {}, taskNames: request.taskNames };
  const admissions = admit(candidates, snapshot, worker, request.limit);
  if (admissions.length === 0) return [];
  const ids = admissions.map((a) => a.id);
  // A run a cancel or a debounce holds (or changed meanwhile) is passed over, not waited for.
  const result = await tx.query<PgRunRow>(
    `WITH picked AS (
       SELECT id FROM ${t.runs}
       WHERE id = ANY($3::text[]) AND namespace = $1 AND status IN ('Scheduled', 'Pending', 'AwaitingRetry')
         AND available_at <= $2 AND (schedule_deadline_at IS NULL OR schedule_deadline_at > $2)
       FOR UPDATE SKIP LOCKED
     ), ${claimAndRecord(t, { now: '$2', worker: '$4', lease: '$5', order: 'array_position($3::text[], id::text)' })}
     SELECT ${RUN_COLUMNS} FROM claimed`,
    [request.namespace, now, ids, request.workerId, request.leaseMs],
  );
  const claimed = new Map(result.rows.map((row) => [row.id, toRunRow(row)]));
  const byId = new Map(candidates.map((candidate) => [candidate.id, candidate]));
  const taken = admissions.filter((a) => claimed.has(a.id));
  await recordAdmission(
    tx,
    request.namespace,
    request.workerId,
    taken.map((a) => ({ candidate: byId.get(a.id) as GatedCandidate, takes: a.takes, hits: a.hits })),
  );
  return taken.map((a) => claimed.get(a.id) as RunRow);
}
