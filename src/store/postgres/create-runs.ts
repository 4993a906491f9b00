/**
 * Inserts new runs, in one transaction for a whole batch (one statement for the
 * runs, one for their states). An idempotency key still inside its window
 * returns the first run (or raises a conflict when the input differs); an
 * expired key is taken over. Keys are claimed with INSERT … ON CONFLICT and a
 * fenced UPDATE, so concurrent enqueues from several processes agree.
 * Flow control at enqueue (flow.ts): a debounced run updates the queued one, a
 * cancel-newest rejection is created then ended Cancelled, cancel-in-progress
 * cancels the key's oldest holders; those keys are locked for the transaction.
 */

import { flowGroup, hasFlow } from '../../engine/flow-control.js';
import { cancelledError } from '../../engine/run-rules.js';
import { STATE_TYPE } from '../../engine/states.js';
import { IdempotencyConflictError } from '../../errors.js';
import type { CreatedRun, NewRun, StoredWaitingOn } from '../types.js';
import { PREPARED, type Tx } from './connection.js';
import { decideEnqueue, type EnqueueDecision, insertHolds, lockEnqueueKeys, needsEnqueueDecision } from './flow.js';
import { insertStates } from './state-writes.js';

const STATE_TYPE_ROWS = Object.entries(STATE_TYPE).map(([name, type]) => ({ name, type }));

/** Runs decided but not yet written: written together, and before any decision that reads what is stored. */
interface Pending {
  rows: Record<string, unknown>[];
  runs: NewRun[];
  rejected: { id: string; reason: string }[];
}

export async function createRuns(tx: Tx, namespace: string, runs: readonly NewRun[]): Promise<CreatedRun[]> {
  const { now } = tx;
  const results: CreatedRun[] = [];
  const pending: Pending = { rows: [], runs: [], rejected: [] };
  let isAvailable = false;
  // Enqueues of one debounce key or cancel-strategy concurrency key, from any process, go one at a time.
  await lockEnqueueKeys(tx, namespace, runs);
  // The tasks of a workflow run whose key matched an earlier run (or that was rejected) are not created either.
  const duplicateWorkflows = new Set<string>();
  for (const run of runs) {
    if (duplicateWorkflows.has(run.workflowRunId)) continue;
    if (run.idempotency) {
      const existing = await claimKey(tx, namespace, run);
      if (existing) {
        if (existing.input_hash !== run.idempotency.inputHash) {
          throw new IdempotencyConflictError(run.idempotency.key, existing.run_id);
        }
        results.push({ id: existing.run_id, outcome: 'deduplicated' });
        if (run.kind === 'workflow') duplicateWorkflows.add(run.id);
        continue;
      }
    }
    let decision: EnqueueDecision = { kind: 'create' };
    if (needsEnqueueDecision(run)) {
      // Earlier runs of the batch count (a debounce target, a key's holder).
      isAvailable = (await flush(tx, namespace, pending)) || isAvailable;
      decision = await decideEnqueue(tx, namespace, run);
    }
    if (decision.kind === 'debounced') {
      // A new idempotency key points at the run that took this input.
      if (run.idempotency) {
        await tx.query(`UPDATE ${tx.t.keys} SET run_id = $1 WHERE namespace = $2 AND task_name = $3 AND key = $4`, [
          decision.id,
          namespace,
          run.taskName,
          run.idempotency.key,
        ]);
      }
      results.push({ id: decision.id, outcome: 'debounced' });
      isAvailable = true;
      continue;
    }
    const delayMs = run.debounce ? Math.max(run.delayMs ?? 0, run.debounce.periodMs) : run.delayMs;
    const availableAt = run.runAt ?? now + (delayMs ?? 0);
    const isDelayed = availableAt > now;
    const status = run.initialStatus ?? (isDelayed ? 'Scheduled' : 'Pending');
    const waitingOn: StoredWaitingOn | null =
      run.waitingOn ??
      (isDelayed && !run.initialStatus
        ? { reason: 'scheduled', message: `scheduled to start at ${new Date(availableAt).toISOString()}`, until: availableAt }
        : null);
    const scheduleDeadline = run.scheduleTimeoutMs === undefined ? null : Math.max(availableAt, now) + run.scheduleTimeoutMs;
    const flow = run.flow && hasFlow(run.flow) ? run.flow : null;
    pending.rows.push({
      id: run.id,
      kind: run.kind ?? 'task',
      queue_key: run.queueKey ?? run.taskName,
      dag: run.dag ?? null,
      workflow_run_id: run.workflowRunId,
      workflow_name: run.workflowName,
      task_name: run.taskName,
      parent_run_id: run.parentRunId,
      parent_workflow_run_id: run.parentWorkflowRunId,
      status,
      max_crashes: run.maxCrashes,
      priority: run.priority,
      input: run.input,
      tags: run.tags,
      metadata: run.metadata,
      custom_context: run.customContext,
      trigger: run.trigger,
      idempotency_key: run.idempotency?.key ?? null,
      available_at: availableAt,
      schedule_deadline_at: scheduleDeadline,
      cancel_grace_ms: run.cancelGraceMs,
      waiting_on: waitingOn,
      flow,
      gate: flow && run.kind !== 'workflow' ? flowGroup(flow, run.queueKey ?? run.taskName) : null,
      debounce_key: run.debounce?.key ?? null,
      trace_context: run.traceContext ?? null,
      context_values: run.contextValues ?? null,
    });
    if (decision.kind === 'rejected') {
      // Created, then ended at once with the reason: never a silent drop.
      pending.rejected.push({ id: run.id, reason: decision.reason });
      results.push({ id: run.id, outcome: 'rejected' });
      if (run.kind === 'workflow') duplicateWorkflows.add(run.id);
      continue;
    }
    pending.runs.push(run);
    results.push(
      decision.kind === 'create-after-cancelling'
        ? { id: run.id, outcome: 'created', cancelled: decision.cancelled }
        : { id: run.id, outcome: 'created' },
    );
  }
  isAvailable = (await flush(tx, namespace, pending)) || isAvailable;
  if (isAvailable) tx.notify({ t: 'available', ns: namespace });
  return results;
}

/** Writes the pending runs: rows and first states, holder rows, rejections, copied steps. Returns whether any was written. */
async function flush(tx: Tx, namespace: string, pending: Pending): Promise<boolean> {
  const { now, t } = tx;
  const { rows, runs, rejected } = pending;
  if (rows.length === 0) return false;
  // One statement writes the runs and their first state rows.
  await tx.query(
    `WITH inserted AS (
     INSERT INTO ${t.runs} (id, namespace, kind, queue_key, dag, workflow_run_id, workflow_name, task_name, parent_run_id,
       parent_workflow_run_id, status, attempt, crash_count, max_crashes, priority, input, tags, metadata,
       custom_context, trigger, idempotency_key, available_at, schedule_deadline_at, created_at, updated_at,
       cancel_grace_ms, waiting_on, flow, gate, debounce_key, trace_context, context_values)
     SELECT id, $2, kind, queue_key, dag, workflow_run_id, workflow_name, task_name, parent_run_id, parent_workflow_run_id, status, 0, 0,
       max_crashes, priority, input, tags, metadata, custom_context, trigger, idempotency_key, available_at,
       schedule_deadline_at, $3, $3, cancel_grace_ms, waiting_on, flow, gate, debounce_key, trace_context, context_values
     FROM json_to_recordset($1::json) AS x(id text, kind text, queue_key text, dag json, workflow_run_id text, workflow_name text, task_name text,
       parent_run_id text, parent_workflow_run_id text, status text, max_crashes integer, priority integer,
       input text, tags json, metadata json, custom_context json, trigger json, idempotency_key text,
       available_at bigint, schedule_deadline_at bigint, cancel_grace_ms bigint, waiting_on json,
       flow jsonb, gate text, debounce_key text, trace_context json, context_values text)
     RETURNING id, status, waiting_on
   )
   INSERT INTO ${t.states} (run_id, attempt, type, name, at, waiting_on)
   SELECT i.id, 0, st.type, i.status, $3, i.waiting_on
   FROM inserted i JOIN json_to_recordset($4::json) AS st(name text, type text) ON st.name = i.status`,
    [JSON.stringify(rows), namespace, now, JSON.stringify(STATE_TYPE_ROWS)],
    PREPARED,
  );
  await insertHolds(tx, namespace, runs);
  const members = runs.filter((run) => run.transactionId !== undefined);
  if (members.length > 0) {
    await tx.query(
      `UPDATE ${t.runs} r SET transaction_id = x.txn FROM json_to_recordset($1::json) AS x(id text, txn text)
       WHERE r.id = x.id AND r.id = ANY($2::text[])`,
      [JSON.stringify(members.map((run) => ({ id: run.id, txn: run.transactionId }))), members.map((run) => run.id)],
    );
  }
  if (rejected.length > 0) {
    await tx.query(
      `UPDATE ${t.runs} r SET status = 'Cancelled', cancel_reason = x.reason, cancel_requested_at = $2, error = x.error,
         finished_at = $2, waiting_on = NULL
       FROM json_to_recordset($1::json) AS x(id text, reason text, error json) WHERE r.id = x.id AND r.id = ANY($3::text[])`,
      [JSON.stringify(rejected.map((r) => ({ ...r, error: cancelledError(r.reason) }))), now, rejected.map((r) => r.id)],
    );
    await insertStates(
      tx,
      rejected.map((r) => ({ runId: r.id, attempt: 0, name: 'Cancelled', at: now, message: r.reason })),
    );
  }
  for (const run of runs) {
    if (!run.copySteps) continue;
    await tx.query(
      `INSERT INTO ${t.steps} (run_id, step_key, seq, kind, output, error, attempt, epoch, created_at)
       SELECT $1, step_key, seq, kind, output, error, 0, 0, $2 FROM ${t.steps} WHERE run_id = $3 AND seq < $4 AND error IS NULL`,
      [run.id, now, run.copySteps.fromRunId, run.copySteps.beforeSeq],
    );
  }
  pending.rows = [];
  pending.runs = [];
  pending.rejected = [];
  return true;
}

interface KeyRow {
  run_id: string;
  input_hash: string;
}

/** Takes the key for `run` (returns undefined), or returns the live key that another run holds. */
async function claimKey(tx: Tx, namespace: string, run: NewRun): Promise<KeyRow | undefined> {
  const idem = run.idempotency as NonNullable<NewRun['idempotency']>;
  const params = [namespace, run.taskName, idem.key, run.id, idem.inputHash, tx.now + idem.windowMs, tx.now];
  for (;;) {
    const inserted = await tx.query(
      `INSERT INTO ${tx.t.keys} (namespace, task_name, key, run_id, input_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (namespace, task_name, key) DO NOTHING RETURNING run_id`,
      params.slice(0, 6),
    );
    if (inserted.rowCount) return undefined;
    // The key exists: take it over when it expired, else report who holds it.
    const takenOver = await tx.query(
      `UPDATE ${tx.t.keys} SET run_id = $4, input_hash = $5, expires_at = $6
       WHERE namespace = $1 AND task_name = $2 AND key = $3 AND expires_at <= $7 RETURNING run_id`,
      params,
    );
    if (takenOver.rowCount) return undefined;
    const existing = await tx.query<KeyRow>(
      `SELECT run_id, input_hash FROM ${tx.t.keys} WHERE namespace = $1 AND task_name = $2 AND key = $3`,
      params.slice(0, 3),
    );
    if (existing.rows[0]) return existing.rows[0];
  }
}
