/** Maps PostgreSQL rows (snake_case, json parsed by pg, bigint times as numbers) to the store's row types. */

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

export interface PgRunRow {
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
  error: SerializedError | null;
  tags: Record<string, string>;
  metadata: Record<string, unknown>;
  custom_context: Record<string, string>;
  trigger: TriggerOrigin;
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
  waiting_on: StoredWaitingOn | null;
  progress: number | null;
  progress_message: string | null;
  flow: RunFlow | null;
  trace_context: StoredTraceContext | null;
  context_values: string | null;
}

const COLUMNS = [
  'id',
  'namespace',
  'kind',
  'queue_key',
  'workflow_run_id',
  'workflow_name',
  'task_name',
  'parent_run_id',
  'parent_workflow_run_id',
  'status',
  'attempt',
  'crash_count',
  'max_crashes',
  'priority',
  'input',
  'output',
  'error',
  'tags',
  'metadata',
  'custom_context',
  'trigger',
  'idempotency_key',
  'available_at',
  'schedule_deadline_at',
  'created_at',
  'started_at',
  'finished_at',
  'updated_at',
  'lease_epoch',
  'lease_owner',
  'lease_expires_at',
  'deadline_at',
  'cancel_requested_at',
  'cancel_reason',
  'cancel_grace_ms',
  'waiting_on',
  'progress',
  'progress_message',
  'flow',
  'trace_context',
  'context_values',
];

/** Every column but the checkpoint, which is loaded on its own. */
export const RUN_COLUMNS = COLUMNS.join(', ');

/** The same columns qualified by a table alias (for joins and UPDATE … RETURNING). */
export function runColumns(alias: string): string {
  return COLUMNS.map((c) => `${alias}.${c}`).join(', ');
}

export function toRunRow(row: PgRunRow): RunRow {
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
    error: row.error,
    tags: row.tags,
    metadata: row.metadata,
    customContext: row.custom_context,
    trigger: reviveTrigger(row.trigger),
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
    waitingOn: row.waiting_on,
    progress: row.progress,
    progressMessage: row.progress_message,
    flow: row.flow,
    traceContext: row.trace_context,
    contextValues: row.context_values,
  };
}

export interface PgStateRow {
  run_id: string;
  attempt: number;
  type: string;
  name: string;
  at: number;
  message: string | null;
  error: SerializedError | null;
  waiting_on: StoredWaitingOn | null;
}

export function toStateRow(row: PgStateRow): StateRow {
  return {
    runId: row.run_id,
    attempt: row.attempt,
    type: row.type as StateType,
    name: row.name as StateName,
    at: row.at,
    message: row.message,
    error: row.error,
    waitingOn: row.waiting_on,
  };
}

export interface PgLogRow {
  run_id: string;
  attempt: number;
  at: number;
  level: string;
  message: string;
  fields: Record<string, unknown> | null;
}

export function toLogRow(row: PgLogRow): LogRow {
  return {
    runId: row.run_id,
    attempt: row.attempt,
    time: row.at,
    level: row.level as LogLevel,
    message: row.message,
    fields: row.fields,
  };
}

export interface PgAttemptRow {
  run_id: string;
  epoch: number;
  attempt: number;
  worker_id: string;
  started_at: number;
  ended_at: number | null;
  outcome: string | null;
}

export function toAttemptRow(row: PgAttemptRow): AttemptRow {
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

export interface PgWorkerRow {
  id: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  slots: number;
  task_names: string[];
  host: string;
  pid: number;
  started_at: number;
  heartbeat_at: number;
  lease_ms: number;
  stopped_at: number | null;
}

export function toWorkerRow(row: PgWorkerRow): WorkerRow {
  return {
    id: row.id,
    namespace: row.namespace,
    name: row.name,
    labels: row.labels,
    slots: row.slots,
    taskNames: row.task_names,
    host: row.host,
    pid: row.pid,
    startedAt: row.started_at,
    heartbeatAt: row.heartbeat_at,
    leaseMs: row.lease_ms,
    stoppedAt: row.stopped_at,
  };
}

/** JSON text for a json parameter (null stays SQL NULL). */
export function jsonParam(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
