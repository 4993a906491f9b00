/**
 * Inserts new runs, in one transaction for a whole batch. An idempotency key
 * that is still inside its window returns the first run (or raises a conflict
 * when the input differs); an expired key is taken over by the new run.
 */
import { flowGroup, hasFlow } from '../../engine/flow-control.js';
import { cancelledError } from '../../engine/run-rules.js';
import { IdempotencyConflictError } from '../../errors.js';
import type { CreatedRun, NewRun, StoredWaitingOn } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { decideEnqueue, insertHolds } from './flow.js';
import { insertState } from './state-writes.js';

interface KeyRow {
  run_id: string;
  input_hash: string;
  expires_at: number;
}

export function createRuns(c: SqliteConnection, namespace: string, runs: readonly NewRun[]): CreatedRun[] {
  const now = c.now();
  const results: CreatedRun[] = [];
  const insert =
    c.stmt(`INSERT INTO runs (id, namespace, kind, queue_key, dag, workflow_run_id, workflow_name, task_name, parent_run_id,
      parent_workflow_run_id, status, attempt, crash_count, max_crashes, priority, input, tags, metadata,
      custom_context, trigger, idempotency_key, available_at, schedule_deadline_at, created_at, updated_at,
      cancel_grace_ms, waiting_on, flow, gate, debounce_key, trace_context, context_values)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const reject = c.stmt(`UPDATE runs SET status = 'Cancelled', cancel_reason = ?, cancel_requested_at = ?, error = ?,
      finished_at = ?, waiting_on = NULL WHERE id = ?`);
  // The tasks of a workflow run whose key matched an earlier run (or that was rejected) are not created either.
  const duplicateWorkflows = new Set<string>();
  for (const run of runs) {
    if (duplicateWorkflows.has(run.workflowRunId)) continue;
    if (run.idempotency) {
      const existing = c
        .stmt('SELECT run_id, input_hash, expires_at FROM idempotency_keys WHERE namespace = ? AND task_name = ? AND key = ?')
        .get(namespace, run.taskName, run.idempotency.key) as KeyRow | undefined;
      if (existing && existing.expires_at > now) {
        if (existing.input_hash !== run.idempotency.inputHash) {
          throw new IdempotencyConflictError(run.idempotency.key, existing.run_id);
        }
        results.push({ id: existing.run_id, outcome: 'deduplicated' });
        if (run.kind === 'workflow') duplicateWorkflows.add(run.id);
        continue;
      }
      c.stmt(
        `INSERT INTO idempotency_keys (namespace, task_name, key, run_id, input_hash, expires_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (namespace, task_name, key) DO UPDATE SET run_id = excluded.run_id,
           input_hash = excluded.input_hash, expires_at = excluded.expires_at`,
      ).run(namespace, run.taskName, run.idempotency.key, run.id, run.idempotency.inputHash, now + run.idempotency.windowMs);
    }
    const decision = decideEnqueue(c, namespace, run, now);
    if (decision.kind === 'debounced') {
      // A new idempotency key points at the run that took this input.
      if (run.idempotency) {
        c.stmt('UPDATE idempotency_keys SET run_id = ? WHERE namespace = ? AND task_name = ? AND key = ?').run(
          decision.id,
          namespace,
          run.taskName,
          run.idempotency.key,
        );
      }
      results.push({ id: decision.id, outcome: 'debounced' });
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
    insert.run(
      run.id,
      namespace,
      run.kind ?? 'task',
      run.queueKey ?? run.taskName,
      run.dag ? JSON.stringify(run.dag) : null,
      run.workflowRunId,
      run.workflowName,
      run.taskName,
      run.parentRunId,
      run.parentWorkflowRunId,
      status,
      run.maxCrashes,
      run.priority,
      run.input,
      JSON.stringify(run.tags),
      JSON.stringify(run.metadata),
      JSON.stringify(run.customContext),
      JSON.stringify(run.trigger),
      run.idempotency?.key ?? null,
      availableAt,
      scheduleDeadline,
      now,
      now,
      run.cancelGraceMs,
      waitingOn ? JSON.stringify(waitingOn) : null,
      run.flow && hasFlow(run.flow) ? JSON.stringify(run.flow) : null,
      run.flow && hasFlow(run.flow) && run.kind !== 'workflow' ? flowGroup(run.flow, run.queueKey ?? run.taskName) : null,
      run.debounce?.key ?? null,
      run.traceContext ? JSON.stringify(run.traceContext) : null,
      run.contextValues ?? null,
    );
    insertState(c, run.id, 0, status, now, { waitingOn });
    if (decision.kind === 'rejected') {
      reject.run(decision.reason, now, JSON.stringify(cancelledError(decision.reason)), now, run.id);
      insertState(c, run.id, 0, 'Cancelled', now, { message: decision.reason });
      results.push({ id: run.id, outcome: 'rejected' });
      if (run.kind === 'workflow') duplicateWorkflows.add(run.id);
      continue;
    }
    insertHolds(c, namespace, run, now);
    if (run.transactionId) c.stmt('UPDATE runs SET transaction_id = ? WHERE id = ?').run(run.transactionId, run.id);
    if (run.copySteps) {
      c.stmt(`INSERT INTO steps (run_id, step_key, seq, kind, output, error, attempt, epoch, created_at)
        SELECT ?, step_key, seq, kind, output, error, 0, 0, ? FROM steps WHERE run_id = ? AND seq < ? AND error IS NULL`).run(
        run.id,
        now,
        run.copySteps.fromRunId,
        run.copySteps.beforeSeq,
      );
    }
    results.push(
      decision.kind === 'create-after-cancelling'
        ? { id: run.id, outcome: 'created', cancelled: decision.cancelled }
        : { id: run.id, outcome: 'created' },
    );
  }
  return results;
}
