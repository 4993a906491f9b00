/**
 * Flow control on SQLite: the snapshot admission judges (held concurrency
 * keys, recent starts per rate key, live workers), the admitted claim, and the
 * enqueue-time strategies (debounce, cancel-newest, cancel-in-progress). Every
 * write transaction is exclusive on SQLite, so reading the snapshot and
 * applying the verdicts in one transaction is atomic across processes.
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
import type { SqliteConnection } from './connection.js';
import { requestCancel } from './control.js';
import { listWorkers } from './reads.js';
import { IS_QUEUED } from './status-sql.js';

/** Loads what admission needs to judge `candidates` (only the keys they name). */
export function loadSnapshot(
  c: SqliteConnection,
  namespace: string,
  candidates: readonly FlowCandidate[],
  now: number,
): FlowSnapshot {
  const snapshot: FlowSnapshot = { now, held: new Map(), holding: new Set(), hits: new Map(), workers: [] };
  const countHeld = c.stmt('SELECT COUNT(*) AS n FROM flow_holds WHERE namespace = ? AND scope = ? AND key = ? AND held = 1');
  const isHeld = c.stmt('SELECT 1 FROM flow_holds WHERE holder_id = ? AND scope = ? AND held = 1');
  const recentHits = c.stmt('SELECT at FROM rate_limit_hits WHERE namespace = ? AND key = ? AND at > ? ORDER BY at');
  const windows = new Map<string, number>();
  let needsWorkers = false;
  for (const candidate of candidates) {
    for (const hold of candidate.flow.holds ?? []) {
      const key = holdKey(hold.scope, hold.key);
      if (!snapshot.held.has(key)) {
        snapshot.held.set(key, (countHeld.get(namespace, hold.scope, hold.key) as { n: number }).n);
      }
      if (isHeld.get(hold.holderId, hold.scope)) snapshot.holding.add(holdKey(hold.scope, hold.holderId));
    }
    for (const rate of candidate.flow.rates ?? []) windows.set(rate.key, Math.max(windows.get(rate.key) ?? 0, rate.perMs));
    if (candidate.flow.labels?.length || candidate.flow.sticky) needsWorkers = true;
  }
  for (const [key, perMs] of windows) {
    snapshot.hits.set(
      key,
      (recentHits.all(namespace, key, now - perMs) as { at: number }[]).map((r) => r.at),
    );
  }
  if (needsWorkers) {
    snapshot.workers = listWorkers(c, namespace, true).map((w) => ({ id: w.id, labels: w.labels, taskNames: w.taskNames }));
  }
  return snapshot;
}

interface SqlCandidate {
  id: string;
  queue_key: string;
  priority: number;
  available_at: number;
  flow: string;
  rank: number;
  sticky_worker: string | null;
}

/**
 * Due runs with rules, at most `perGroup` from each group (so a group with
 * thousands queued cannot hide the others), first places of every group first.
 */
export function loadCandidates(
  c: SqliteConnection,
  namespace: string,
  tasks: string,
  now: number,
  perGroup: number,
  cap: number,
): FlowCandidate[] {
  const rows = c
    .stmt(`SELECT id, queue_key, priority, available_at, flow, rank,
        (SELECT w.sticky_worker FROM runs w WHERE w.id = g.workflow_run_id) AS sticky_worker
      FROM (SELECT id, queue_key, priority, available_at, flow, workflow_run_id,
              ROW_NUMBER() OVER (PARTITION BY gate ORDER BY priority DESC, available_at, id) - 1 AS rank
            FROM runs INDEXED BY runs_gated
            WHERE namespace = @namespace AND ${IS_QUEUED} AND gate IS NOT NULL
              AND available_at <= @now AND (schedule_deadline_at IS NULL OR schedule_deadline_at > @now)
              AND queue_key IN (SELECT value FROM json_each(@tasks))) g
      WHERE rank < @perGroup
      ORDER BY rank, priority DESC, available_at, id
      LIMIT @cap`)
    .all({ namespace, now, tasks, perGroup, cap }) as SqlCandidate[];
  return rows.map((r) => ({
    id: r.id,
    queueKey: r.queue_key,
    priority: r.priority,
    availableAt: r.available_at,
    flow: JSON.parse(r.flow) as RunFlow,
    rank: r.rank,
    stickyWorker: r.sticky_worker,
  }));
}

/** Records what admitted runs take: their keys, their rate-limit starts, a sticky workflow's worker. */
export function recordAdmission(
  c: SqliteConnection,
  namespace: string,
  workerId: string,
  admitted: readonly { candidate: FlowCandidate; takes: { scope: string; holderId: string }[]; hits: string[] }[],
  workflowOf: Map<string, string>,
  now: number,
): void {
  const take = c.stmt('UPDATE flow_holds SET held = 1 WHERE holder_id = ? AND scope = ?');
  const hit = c.stmt('INSERT INTO rate_limit_hits (namespace, key, at, expires_at) VALUES (?, ?, ?, ?)');
  const prune = c.stmt('DELETE FROM rate_limit_hits WHERE namespace = ? AND key = ? AND expires_at <= ?');
  const stick = c.stmt('UPDATE runs SET sticky_worker = ? WHERE id = ? AND sticky_worker IS NULL');
  const pruned = new Set<string>();
  for (const { candidate, takes, hits } of admitted) {
    for (const t of takes) take.run(t.holderId, t.scope);
    for (const key of hits) {
      if (!pruned.has(key)) {
        prune.run(namespace, key, now);
        pruned.add(key);
      }
      const perMs = candidate.flow.rates?.find((r) => r.key === key)?.perMs ?? 0;
      hit.run(namespace, key, now, now + perMs);
    }
    const workflowRunId = workflowOf.get(candidate.id);
    if (candidate.flow.sticky && workflowRunId) stick.run(workerId, workflowRunId);
  }
}

/** Why a queued, due run with rules may not start now, judged for any live worker. */
export function flowWaitingOn(c: SqliteConnection, namespace: string, runId: string): FlowReason | undefined {
  const row = c
    .stmt(`SELECT r.id, r.queue_key, r.priority, r.available_at, r.flow, 0 AS rank,
        (SELECT w.sticky_worker FROM runs w WHERE w.id = r.workflow_run_id) AS sticky_worker
      FROM runs r WHERE r.id = ? AND r.namespace = ? AND r.flow IS NOT NULL`)
    .get(runId, namespace) as SqlCandidate | undefined;
  if (!row) return undefined;
  const candidate: FlowCandidate = {
    id: row.id,
    queueKey: row.queue_key,
    priority: row.priority,
    availableAt: row.available_at,
    flow: JSON.parse(row.flow) as RunFlow,
    rank: 0,
    stickyWorker: row.sticky_worker,
  };
  const now = c.now();
  const snapshot = loadSnapshot(c, namespace, [candidate], now);
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
 * oldest holders (cancel-in-progress).
 */
export function decideEnqueue(c: SqliteConnection, namespace: string, run: NewRun, now: number): EnqueueDecision {
  if (run.debounce) {
    const queued = c
      .stmt(`SELECT id, created_at FROM runs INDEXED BY runs_debounce
        WHERE namespace = ? AND task_name = ? AND debounce_key = ? AND status IN ('Scheduled', 'Pending')
        ORDER BY created_at DESC LIMIT 1`)
      .get(namespace, run.taskName, run.debounce.key) as { id: string; created_at: number } | undefined;
    if (queued) {
      const due = Math.min(
        now + run.debounce.periodMs,
        run.debounce.maxWaitMs === undefined ? Number.POSITIVE_INFINITY : queued.created_at + run.debounce.maxWaitMs,
      );
      const waitingOn = { reason: 'scheduled', message: `debounced until ${new Date(due).toISOString()}`, until: due };
      c.stmt(`UPDATE runs SET input = ?, metadata = ?, available_at = ?, status = CASE WHEN ? > ? THEN 'Scheduled' ELSE status END,
          waiting_on = ?, updated_at = ? WHERE id = ?`).run(
        run.input,
        JSON.stringify(run.metadata),
        due,
        due,
        now,
        JSON.stringify(waitingOn),
        now,
        queued.id,
      );
      return { kind: 'debounced', id: queued.id };
    }
  }
  let cancelled: CancelResult['changed'] = [];
  for (const hold of run.flow?.holds ?? []) {
    if (hold.holderId !== run.id) continue;
    if (hold.strategy !== 'cancel-newest' && hold.strategy !== 'cancel-in-progress') continue;
    const active = (
      c
        .stmt('SELECT holder_id FROM flow_holds WHERE namespace = ? AND scope = ? AND key = ? ORDER BY created_at, holder_id')
        .all(namespace, hold.scope, hold.key) as { holder_id: string }[]
    ).map((r) => r.holder_id);
    if (active.length < hold.max) continue;
    if (hold.strategy === 'cancel-newest') {
      return {
        kind: 'rejected',
        reason: `concurrency key "${hold.key}" already has ${active.length} of ${hold.max} runs (cancel-newest)`,
      };
    }
    for (const holderId of holdersToCancel(active, hold.max)) {
      const result = requestCancel(
        c,
        namespace,
        holderId,
        `replaced by run ${run.id} of concurrency key "${hold.key}" (cancel-in-progress)`,
      );
      if (result) cancelled = [...cancelled, ...result.changed];
    }
  }
  return cancelled.length > 0 ? { kind: 'create-after-cancelling', cancelled } : { kind: 'create' };
}

/** The holder rows of a new run's own concurrency rules. */
export function insertHolds(c: SqliteConnection, namespace: string, run: NewRun, now: number): void {
  const insert = c.stmt(
    'INSERT INTO flow_holds (holder_id, scope, namespace, key, max, strategy, held, created_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?)',
  );
  for (const hold of run.flow?.holds ?? []) {
    if (hold.holderId === run.id) insert.run(run.id, hold.scope, namespace, hold.key, hold.max, hold.strategy, now);
  }
}
