/**
 * Flow control on PostgreSQL: the snapshot admission judges (held concurrency
 * keys, recent starts per rate key, live workers), the admitted claim's
 * bookkeeping, and the enqueue-time strategies (debounce, cancel-newest,
 * cancel-in-progress). The decisions are engine/flow-control's; atomicity
 * across processes comes from transaction-level advisory locks: one per
 * namespace serializes gated admissions (so concurrency counts and rate
 * windows are exact under many workers), one per debounce key and per
 * cancel-strategy concurrency key serializes the enqueues that touch it.
 */
import {
  type FlowCandidate,
  type FlowReason,
  type FlowSnapshot,
  holdersToCancel,
  holdKey,
  judge,
  type RunFlow,
} from '../../engine/flow-control.js';
import type { CancelResult, NewRun } from '../types.js';
import type { Tx } from './connection.js';
import { requestCancel } from './control.js';

const QUEUED = `status IN ('Scheduled', 'Pending', 'AwaitingRetry')`;

/** A lock name unique to this schema (`tx.t.runs` is the quoted, schema-qualified table name). */
function lockName(tx: Tx, ...parts: string[]): string {
  return JSON.stringify(['baton', tx.t.runs, ...parts]);
}

/** Takes the advisory locks named, in one order (their hashes) whatever the caller, so lockers never deadlock. */
async function lockAll(tx: Tx, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  // Volatile select-list functions are evaluated after the sort, so the locks are taken in hash order.
  await tx.query(
    `SELECT pg_advisory_xact_lock(x.h) FROM (SELECT DISTINCT hashtextextended(n, 0) AS h FROM unnest($1::text[]) AS n) x
     ORDER BY x.h`,
    [names],
  );
}

/** Serializes gated admissions of one namespace across workers, until the claiming transaction ends. */
export async function lockAdmission(tx: Tx, namespace: string): Promise<void> {
  await lockAll(tx, [lockName(tx, 'admission', namespace)]);
}

function hasCancelStrategy(run: NewRun): boolean {
  return (run.flow?.holds ?? []).some(
    (h) => h.holderId === run.id && (h.strategy === 'cancel-newest' || h.strategy === 'cancel-in-progress'),
  );
}

/** Whether creating `run` depends on what is stored (a debounce key, a cancel-strategy concurrency key). */
export function needsEnqueueDecision(run: NewRun): boolean {
  return run.debounce !== undefined || hasCancelStrategy(run);
}

/**
 * Locks every debounce key and cancel-strategy concurrency key a batch of new
 * runs touches, at the start of its transaction, so concurrent enqueues of one
 * key see each other's runs.
 */
export async function lockEnqueueKeys(tx: Tx, namespace: string, runs: readonly NewRun[]): Promise<void> {
  const names = new Set<string>();
  for (const run of runs) {
    if (run.debounce) names.add(lockName(tx, 'debounce', namespace, run.taskName, run.debounce.key));
    for (const hold of run.flow?.holds ?? []) {
      if (hold.holderId !== run.id) continue;
      if (hold.strategy !== 'cancel-newest' && hold.strategy !== 'cancel-in-progress') continue;
      names.add(lockName(tx, 'concurrency', namespace, hold.scope, hold.key));
    }
  }
  await lockAll(tx, [...names]);
}

/** A candidate with its workflow run (where a sticky workflow records its worker). */
export interface GatedCandidate extends FlowCandidate {
  workflowRunId: string;
}

interface PgCandidate {
  id: string;
  queue_key: string;
  priority: number;
  available_at: number;
  flow: RunFlow;
  rank: number;
  workflow_run_id: string;
  sticky_worker: string | null;
}

function toCandidate(row: PgCandidate): GatedCandidate {
  return {
    id: row.id,
    queueKey: row.queue_key,
    priority: row.priority,
    availableAt: row.available_at,
    flow: row.flow,
    rank: Number(row.rank),
    stickyWorker: row.sticky_worker,
    workflowRunId: row.workflow_run_id,
  };
}

/** The due-work test of gated runs (SQL over `runs`; $1 namespace, $2 now, $3 task names). */
export const GATED_DUE = `namespace = $1 AND ${QUEUED} AND gate IS NOT NULL AND available_at <= $2
  AND (schedule_deadline_at IS NULL OR schedule_deadline_at > $2) AND queue_key = ANY($3::text[])`;

/**
 * Due runs with rules, at most `perGroup` from each group (so a group with
 * thousands queued cannot hide the others), first places of every group first.
 */
export async function loadCandidates(
  tx: Tx,
  namespace: string,
  taskNames: readonly string[],
  perGroup: number,
  cap: number,
): Promise<GatedCandidate[]> {
  const { t, now } = tx;
  const result = await tx.query<PgCandidate>(
    // The workflow rows are looked up (by key) for the chosen candidates only.
    `SELECT c.*, (SELECT w.sticky_worker FROM ${t.runs} w WHERE w.id = c.workflow_run_id) AS sticky_worker
     FROM (SELECT g.id, g.queue_key, g.priority, g.available_at, g.flow, g.rank, g.workflow_run_id
           FROM (SELECT id, queue_key, priority, available_at, flow, workflow_run_id,
                   ROW_NUMBER() OVER (PARTITION BY gate ORDER BY priority DESC, available_at, id) - 1 AS rank
                 FROM ${t.runs} WHERE ${GATED_DUE}) g
           WHERE g.rank < $4
           ORDER BY g.rank, g.priority DESC, g.available_at, g.id
           LIMIT $5) c
     ORDER BY c.rank, c.priority DESC, c.available_at, c.id`,
    [namespace, now, taskNames, perGroup, cap],
  );
  return result.rows.map(toCandidate);
}

interface SnapshotRow {
  kind: 'held' | 'holding' | 'hit';
  a: string;
  b: string | null;
  n: number;
}

/** Loads what admission needs to judge `candidates` (only the keys they name), in one query (two with labels or stickiness). */
export async function loadSnapshot(tx: Tx, namespace: string, candidates: readonly FlowCandidate[]): Promise<FlowSnapshot> {
  const { t, now } = tx;
  const snapshot: FlowSnapshot = { now, held: new Map(), holding: new Set(), hits: new Map(), workers: [] };
  const keys = { scopes: [] as string[], keys: [] as string[] };
  const holders = { ids: [] as string[], scopes: [] as string[], seen: new Set<string>() };
  const windows = new Map<string, number>();
  let needsWorkers = false;
  for (const candidate of candidates) {
    for (const hold of candidate.flow.holds ?? []) {
      const key = holdKey(hold.scope, hold.key);
      if (!snapshot.held.has(key)) {
        snapshot.held.set(key, 0);
        keys.scopes.push(hold.scope);
        keys.keys.push(hold.key);
      }
      const holder = holdKey(hold.scope, hold.holderId);
      if (!holders.seen.has(holder)) {
        holders.seen.add(holder);
        holders.ids.push(hold.holderId);
        holders.scopes.push(hold.scope);
      }
    }
    for (const rate of candidate.flow.rates ?? []) windows.set(rate.key, Math.max(windows.get(rate.key) ?? 0, rate.perMs));
    if (candidate.flow.labels?.length || candidate.flow.sticky) needsWorkers = true;
  }
  for (const key of windows.keys()) snapshot.hits.set(key, []);
  if (keys.keys.length > 0 || windows.size > 0) {
    const rows = await tx.query<SnapshotRow>(
      `SELECT 'held' AS kind, scope AS a, key AS b, count(*)::bigint AS n FROM ${t.holds}
         WHERE namespace = $1 AND held AND (scope, key) IN (SELECT * FROM unnest($2::text[], $3::text[]))
         GROUP BY scope, key
       UNION ALL
       SELECT 'holding', holder_id, scope, 0 FROM ${t.holds}
         WHERE held AND (holder_id, scope) IN (SELECT * FROM unnest($4::text[], $5::text[]))
       UNION ALL
       SELECT 'hit', h.key, NULL, h.at FROM ${t.rateHits} h JOIN unnest($6::text[], $7::bigint[]) AS x(key, per) ON h.key = x.key
         WHERE h.namespace = $1 AND h.at > $8::bigint - x.per
       ORDER BY kind, a, n`,
      [namespace, keys.scopes, keys.keys, holders.ids, holders.scopes, [...windows.keys()], [...windows.values()], now],
    );
    for (const row of rows.rows) {
      if (row.kind === 'held') snapshot.held.set(holdKey(row.a, row.b as string), Number(row.n));
      else if (row.kind === 'holding') snapshot.holding.add(holdKey(row.b as string, row.a));
      else snapshot.hits.get(row.a)?.push(Number(row.n));
    }
  }
  if (needsWorkers) {
    const workers = await tx.query<{ id: string; labels: Record<string, string>; task_names: string[] }>(
      `SELECT id, labels, task_names FROM ${t.workers}
       WHERE namespace = $1 AND stopped_at IS NULL AND heartbeat_at + lease_ms > $2 ORDER BY started_at`,
      [namespace, now],
    );
    snapshot.workers = workers.rows.map((w) => ({ id: w.id, labels: w.labels, taskNames: w.task_names }));
  }
  return snapshot;
}

/** Records what admitted runs take: their keys, their rate-limit starts, a sticky workflow's worker (one statement). */
export async function recordAdmission(
  tx: Tx,
  namespace: string,
  workerId: string,
  admitted: readonly { candidate: GatedCandidate; takes: { scope: string; holderId: string }[]; hits: string[] }[],
): Promise<void> {
  const takes = admitted.flatMap((a) => a.takes);
  const hits = admitted.flatMap(({ candidate, hits }) =>
    hits.map((key) => ({ key, perMs: candidate.flow.rates?.find((r) => r.key === key)?.perMs ?? 0 })),
  );
  const sticky = [...new Set(admitted.filter((a) => a.candidate.flow.sticky).map((a) => a.candidate.workflowRunId))];
  if (takes.length === 0 && hits.length === 0 && sticky.length === 0) return;
  const { t, now } = tx;
  // Data-modifying CTEs all run, to completion, whether or not the main query reads them.
  await tx.query(
    `WITH taken AS (
       UPDATE ${t.holds} f SET held = true FROM unnest($2::text[], $3::text[]) AS x(holder_id, scope)
       WHERE f.holder_id = x.holder_id AND f.scope = x.scope
       RETURNING 1
     ), pruned AS (
       DELETE FROM ${t.rateHits} WHERE namespace = $1 AND key = ANY($4::text[]) AND expires_at <= $6
       RETURNING 1
     ), hit AS (
       INSERT INTO ${t.rateHits} (namespace, key, at, expires_at)
       SELECT $1, x.key, $6, $6::bigint + x.per FROM unnest($4::text[], $5::bigint[]) AS x(key, per)
       RETURNING 1
     ), stuck AS (
       UPDATE ${t.runs} SET sticky_worker = $7 WHERE id = ANY($8::text[]) AND sticky_worker IS NULL
       RETURNING 1
     )
     SELECT 1`,
    [
      namespace,
      takes.map((x) => x.holderId),
      takes.map((x) => x.scope),
      hits.map((h) => h.key),
      hits.map((h) => h.perMs),
      now,
      workerId,
      sticky,
    ],
  );
}

/** Why a queued, due run with rules may not start now, judged for any live worker. */
export async function flowWaitingOn(tx: Tx, namespace: string, runId: string): Promise<FlowReason | undefined> {
  const { t } = tx;
  const result = await tx.query<PgCandidate>(
    `SELECT r.id, r.queue_key, r.priority, r.available_at, r.flow, 0 AS rank, r.workflow_run_id,
       (SELECT w.sticky_worker FROM ${t.runs} w WHERE w.id = r.workflow_run_id) AS sticky_worker
     FROM ${t.runs} r WHERE r.id = $1 AND r.namespace = $2 AND r.flow IS NOT NULL`,
    [runId, namespace],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  const candidate = toCandidate(row);
  const snapshot = await loadSnapshot(tx, namespace, [candidate]);
  const verdict = judge(candidate, snapshot, undefined);
  return verdict.ok ? undefined : verdict.waitingOn;
}

export type EnqueueDecision =
  | { kind: 'create' }
  | { kind: 'debounced'; id: string }
  | { kind: 'rejected'; reason: string }
  | { kind: 'create-after-cancelling'; cancelled: CancelResult['changed'] };

/**
 * Applies a new run's enqueue-time rules: a queued run with the same debounce
 * key takes its input; a full key rejects it (cancel-newest) or cancels its
 * oldest holders (cancel-in-progress). The keys are locked (`lockEnqueueKeys`)
 * and earlier runs of the batch are already written.
 */
export async function decideEnqueue(tx: Tx, namespace: string, run: NewRun): Promise<EnqueueDecision> {
  const { t, now } = tx;
  if (run.debounce) {
    // FOR UPDATE waits for a claim in flight; a run it took (no longer queued) is passed over.
    const queued = (
      await tx.query<{ id: string; created_at: number }>(
        `SELECT id, created_at FROM ${t.runs}
         WHERE namespace = $1 AND task_name = $2 AND debounce_key = $3 AND status IN ('Scheduled', 'Pending')
         ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE`,
        [namespace, run.taskName, run.debounce.key],
      )
    ).rows[0];
    if (queued) {
      const due = Math.min(
        now + run.debounce.periodMs,
        run.debounce.maxWaitMs === undefined ? Number.POSITIVE_INFINITY : queued.created_at + run.debounce.maxWaitMs,
      );
      const waitingOn = { reason: 'scheduled', message: `debounced until ${new Date(due).toISOString()}`, until: due };
      await tx.query(
        `UPDATE ${t.runs} SET input = $2, metadata = $3, available_at = $4,
           status = CASE WHEN $4::bigint > $5::bigint THEN 'Scheduled' ELSE status END, waiting_on = $6, updated_at = $5
         WHERE id = $1`,
        [queued.id, run.input, JSON.stringify(run.metadata), due, now, JSON.stringify(waitingOn)],
      );
      return { kind: 'debounced', id: queued.id };
    }
  }
  let cancelled: CancelResult['changed'] = [];
  for (const hold of run.flow?.holds ?? []) {
    if (hold.holderId !== run.id) continue;
    if (hold.strategy !== 'cancel-newest' && hold.strategy !== 'cancel-in-progress') continue;
    const active = (
      await tx.query<{ holder_id: string }>(
        `SELECT holder_id FROM ${t.holds} WHERE namespace = $1 AND scope = $2 AND key = $3
         ORDER BY created_at, holder_id COLLATE "C"`,
        [namespace, hold.scope, hold.key],
      )
    ).rows.map((r) => r.holder_id);
    if (active.length < hold.max) continue;
    if (hold.strategy === 'cancel-newest') {
      return {
        kind: 'rejected',
        reason: `concurrency key "${hold.key}" already has ${active.length} of ${hold.max} runs (cancel-newest)`,
      };
    }
    for (const holderId of holdersToCancel(active, hold.max)) {
      const result = await requestCancel(
        tx,
        namespace,
        holderId,
        `replaced by run ${run.id} of concurrency key "${hold.key}" (cancel-in-progress)`,
      );
      if (result) cancelled = [...cancelled, ...result.changed];
    }
  }
  return cancelled.length > 0 ? { kind: 'create-after-cancelling', cancelled } : { kind: 'create' };
}

/** The holder rows of new runs' own concurrency rules (one statement). */
export async function insertHolds(tx: Tx, namespace: string, runs: readonly NewRun[]): Promise<void> {
  const rows = runs.flatMap((run) =>
    (run.flow?.holds ?? [])
      .filter((hold) => hold.holderId === run.id)
      .map((hold) => ({ holder_id: run.id, scope: hold.scope, key: hold.key, max: hold.max, strategy: hold.strategy })),
  );
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO ${tx.t.holds} (holder_id, scope, namespace, key, max, strategy, held, created_at)
     SELECT holder_id, scope, $2, key, max, strategy, false, $3
     FROM json_to_recordset($1::json) AS x(holder_id text, scope text, key text, max integer, strategy text)`,
    [JSON.stringify(rows), namespace, tx.now],
  );
}
