/** Maps SQLite rows (snake_case, JSON as text, times as ms) to the store's row types. */

import type { RunFlow } from '../../engine/flow-control.js';
import { reviveTrigger } from '../../engine/trigger.js';
import type { LogLevel, StateName, StateType, TriggerOrigin } from '../../engine/types.js';
import type { SerializedError } from '../../errors.js';
import type {
  AttemptOutcome,
  AttemptRow,
  LogRow,
  RunRow,
  StateRow,
  StoredTraceContext,
  StoredWaitingOn,
  WorkerRow,
} from '../types.js';

export interface SqlRunRow {
  id: string;
  namespace: string;
  kind: string;
  queue_key: string;
  workflow_run_id: string;
  workflow_name: string;
  task_name: string;
  parent_run_id: string | null;
  parent_workflow_run_id: string | null;
  status: string;
  attempt: number;
  crash_count: number;
  max_crashes: number;
  priority: number;
  input: string | null;
  output: string | null;
  error: string | null;
  tags: string;
  metadata: string;
  custom_context: string;
  trigger: string;
  idempotency_key: string | null;
  available_at: number;
  schedule_deadline_at: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
  lease_epoch: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  deadline_at: number | null;
  cancel_requested_at: number | null;
  cancel_reason: string | null;
  cancel_grace_ms: number;
  waiting_on: string | null;
  progress: number | null;
  progress_message: string | null;
  flow: string | null;
  trace_context: string | null;
  context_values: string | null;
}

/** Every column but the checkpoint, which is loaded on its own. */
export const RUN_COLUMNS = `id, namespace, kind, queue_key, workflow_run_id, workflow_name, task_name, parent_run_id,
  parent_workflow_run_id, status, attempt, crash_count, max_crashes, priority, input, output, error, tags,
  metadata, custom_context, trigger, idempotency_key, available_at, schedule_deadline_at, created_at,
  started_at, finished_at, updated_at, lease_epoch, lease_owner, lease_expires_at, deadline_at,
  cancel_requested_at, cancel_reason, cancel_grace_ms, waiting_on, progress, progress_message, flow,
  trace_context, context_values`;

const RUN_COLUMN_NAMES = RUN_COLUMNS.split(',').map((name) => name.trim());

/**
 * Rows of RUN_COLUMNS from a statement run in raw mode (arrays of values). better-sqlite3 builds
 * each row object on the native side, key by key, which for 41 columns cost more than the claim's
 * UPDATE itself; built here, one shape for all rows, it costs a third (docs/decisions/0011).
 */
export function runRowsOfValues(rows: readonly unknown[][]): SqlRunRow[] {
  return rows.map((values) => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < RUN_COLUMN_NAMES.length; i++) row[RUN_COLUMN_NAMES[i] as string] = values[i];
    return row as unknown as SqlRunRow;
  });
}

function json<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function toRunRow(row: SqlRunRow): RunRow {
  return {
    id: row.id,
    namespace: row.namespace,
    kind: row.kind as RunRow['kind'],
    queueKey: row.queue_key,
    workflowRunId: row.workflow_run_id,
    workflowName: row.workflow_name,
    taskName: row.task_name,
    parentRunId: row.parent_run_id,
    parentWorkflowRunId: row.parent_workflow_run_id,
    status: row.status as StateName,
    attempt: row.attempt,
    crashCount: row.crash_count,
    maxCrashes: row.max_crashes,
    priority: row.priority,
    input: row.input,
    output: row.output,
    error: json<SerializedError>(row.error),
    tags: JSON.parse(row.tags) as Record<string, string>,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    customContext: JSON.parse(row.custom_context) as Record<string, string>,
    trigger: reviveTrigger(JSON.parse(row.trigger) as TriggerOrigin),
    idempotencyKey: row.idempotency_key,
    availableAt: row.available_at,
    scheduleDeadlineAt: row.schedule_deadline_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
    leaseEpoch: row.lease_epoch,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    deadlineAt: row.deadline_at,
    cancelRequestedAt: row.cancel_requested_at,
    cancelReason: row.cancel_reason,
    cancelGraceMs: row.cancel_grace_ms,
    waitingOn: json<StoredWaitingOn>(row.waiting_on),
    progress: row.progress,
    progressMessage: row.progress_message,
    flow: json<RunFlow>(row.flow),
    traceContext: json<StoredTraceContext>(row.trace_context),
    contextValues: row.context_values,
  };
}

export interface SqlStateRow {
  run_id: string;
  attempt: number;
  type: string;
  name: string;
  at: number;
  message: string | null;
  error: string | null;
  waiting_on: string | null;
}

export function toStateRow(row: SqlStateRow): StateRow {
  return {
    runId: row.run_id,
    attempt: row.attempt,
    type: row.type as StateType,
    name: row.name as StateName,
    at: row.at,
    message: row.message,
    error: json<SerializedError>(row.error),
    waitingOn: json<StoredWaitingOn>(row.waiting_on),
  };
}

export interface SqlLogRow {
  run_id: string;
  attempt: number;
  at: number;
  level: string;
  message: string;
  fields: string | null;
}

export function toLogRow(row: SqlLogRow): LogRow {
  return {
    runId: row.run_id,
    attempt: row.attempt,
    time: row.at,
    level: row.level as LogLevel,
    message: row.message,
    fields: json<Record<string, unknown>>(row.fields),
  };
}

export interface SqlAttemptRow {
  run_id: string;
  epoch: number;
  attempt: number;
  worker_id: string;
  started_at: number;
  ended_at: number | null;
  outcome: string | null;
}

export function toAttemptRow(row: SqlAttemptRow): AttemptRow {
  return {
    runId: row.run_id,
    epoch: row.epoch,
    attempt: row.attempt,
    workerId: row.worker_id,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    outcome: row.outcome as AttemptOutcome | null,
  };
}

export interface SqlWorkerRow {
  id: string;
  namespace: string;
  name: string;
  labels: string;
  slots: number;
  task_names: string;
  host: string;
  pid: number;
  started_at: number;
  heartbeat_at: number;
  lease_ms: number;
  stopped_at: number | null;
}

export function toWorkerRow(row: SqlWorkerRow): WorkerRow {
  return {
    id: row.id,
    namespace: row.namespace,
    name: row.name,
    labels: JSON.parse(row.labels) as Record<string, string>,
    slots: row.slots,
    taskNames: JSON.parse(row.task_names) as string[],
    host: row.host,
    pid: row.pid,
    startedAt: row.started_at,
    heartbeatAt: row.heartbeat_at,
    leaseMs: row.lease_ms,
    stoppedAt: row.stopped_at,
  };
}
