/** Read-only queries: runs, pages of runs, states, logs, attempts, streams, workers, the task registry. */

import { decodeCursor, encodeCursor } from '../cursor.js';
import type {
  AttemptRow,
  LogRow,
  RegisteredTask,
  RunFilter,
  RunPage,
  RunRow,
  StateRow,
  StoredDag,
  StreamChunkRow,
  WorkerRow,
} from '../types.js';
import type { SqliteConnection } from './connection.js';
import {
  RUN_COLUMNS,
  type SqlAttemptRow,
  type SqlLogRow,
  type SqlRunRow,
  type SqlStateRow,
  type SqlWorkerRow,
  toAttemptRow,
  toLogRow,
  toRunRow,
  toStateRow,
  toWorkerRow,
} from './rows.js';
import { IS_QUEUED } from './status-sql.js';

export function getRun(c: SqliteConnection, namespace: string, runId: string): RunRow | undefined {
  const row = c.stmt(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ? AND namespace = ?`).get(runId, namespace) as
    | SqlRunRow
    | undefined;
  return row ? toRunRow(row) : undefined;
}

export function getRuns(c: SqliteConnection, namespace: string, runIds: readonly string[]): RunRow[] {
  if (runIds.length === 0) return [];
  return (
    c
      .stmt(`SELECT ${RUN_COLUMNS} FROM runs WHERE namespace = ? AND id IN (SELECT value FROM json_each(?))`)
      .all(namespace, JSON.stringify(runIds)) as SqlRunRow[]
  ).map(toRunRow);
}

export function listWorkflowTasks(c: SqliteConnection, namespace: string, workflowRunId: string): RunRow[] {
  return (
    c
      .stmt(
        `SELECT ${RUN_COLUMNS} FROM runs WHERE workflow_run_id = ? AND namespace = ? AND kind = 'task' AND id != workflow_run_id`,
      )
      .all(workflowRunId, namespace) as SqlRunRow[]
  ).map(toRunRow);
}

export function getDag(c: SqliteConnection, namespace: string, workflowRunId: string): StoredDag | undefined {
  const row = c.stmt(`SELECT dag FROM runs WHERE id = ? AND namespace = ? AND kind = 'workflow'`).get(workflowRunId, namespace) as
    | { dag: string | null }
    | undefined;
  return row?.dag ? (JSON.parse(row.dag) as StoredDag) : undefined;
}

export function listRuns(c: SqliteConnection, filter: RunFilter): RunPage {
  const where = ['namespace = @namespace'];
  const params: Record<string, unknown> = { namespace: filter.namespace, limit: filter.limit + 1 };
  if (filter.statuses && filter.statuses.length > 0) {
    where.push('status IN (SELECT value FROM json_each(@statuses))');
    params.statuses = JSON.stringify(filter.statuses);
  }
  if (filter.taskName !== undefined) {
    where.push('task_name = @task');
    params.task = filter.taskName;
  }
  if (filter.parentRunId !== undefined) {
    where.push('parent_run_id = @parent');
    params.parent = filter.parentRunId;
  }
  if (filter.createdAfter !== undefined) {
    where.push('created_at >= @after');
    params.after = filter.createdAfter;
  }
  if (filter.createdBefore !== undefined) {
    where.push('created_at < @before');
    params.before = filter.createdBefore;
  }
  Object.entries(filter.tags ?? {}).forEach(([key, value], i) => {
    where.push(`EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE key = @tagKey${i} AND value = @tagValue${i})`);
    params[`tagKey${i}`] = key;
    params[`tagValue${i}`] = value;
  });
  const cursor = filter.cursor ? decodeCursor(filter.cursor) : undefined;
  if (cursor) {
    where.push('(created_at < @cursorAt OR (created_at = @cursorAt AND id < @cursorId))');
    params.cursorAt = cursor.createdAt;
    params.cursorId = cursor.id;
  }
  const rows = c
    .stmt(`SELECT ${RUN_COLUMNS} FROM runs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @limit`)
    .all(params) as SqlRunRow[];
  const items = rows.slice(0, filter.limit).map(toRunRow);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > filter.limit && last ? encodeCursor(last.createdAt, last.id) : undefined };
}

export function listStates(c: SqliteConnection, runId: string): StateRow[] {
  return (
    c
      .stmt('SELECT run_id, attempt, type, name, at, message, error, waiting_on FROM run_states WHERE run_id = ? ORDER BY id')
      .all(runId) as SqlStateRow[]
  ).map(toStateRow);
}

export function listLogs(c: SqliteConnection, runId: string): LogRow[] {
  return (
    c.stmt('SELECT run_id, attempt, at, level, message, fields FROM logs WHERE run_id = ? ORDER BY id').all(runId) as SqlLogRow[]
  ).map(toLogRow);
}

export function listAttempts(c: SqliteConnection, runId: string): AttemptRow[] {
  return (
    c
      .stmt(
        'SELECT run_id, epoch, attempt, worker_id, started_at, ended_at, outcome FROM attempts WHERE run_id = ? ORDER BY epoch',
      )
      .all(runId) as SqlAttemptRow[]
  ).map(toAttemptRow);
}

export function readStream(c: SqliteConnection, runId: string, afterSeq: number, limit: number): StreamChunkRow[] {
  return (
    c
      .stmt('SELECT run_id, seq, data, at FROM stream_chunks WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?')
      .all(runId, afterSeq, limit) as { run_id: string; seq: number; data: string; at: number }[]
  ).map((row) => ({ runId: row.run_id, seq: row.seq, data: row.data, at: row.at }));
}

export function loadCheckpoint(c: SqliteConnection, runId: string): string | null {
  const row = c.stmt('SELECT checkpoint FROM runs WHERE id = ?').get(runId) as { checkpoint: string | null } | undefined;
  return row?.checkpoint ?? null;
}

export function listWorkers(c: SqliteConnection, namespace: string, liveOnly: boolean): WorkerRow[] {
  const rows = c.stmt('SELECT * FROM workers WHERE namespace = ? ORDER BY started_at').all(namespace) as SqlWorkerRow[];
  const now = c.now();
  return rows.map(toWorkerRow).filter((w) => !liveOnly || (w.stoppedAt === null && w.heartbeatAt + w.leaseMs > now));
}

export function listTasks(c: SqliteConnection, namespace: string): RegisteredTask[] {
  const rows = c
    .stmt(
      'SELECT name, kind, version, input_schema, triggers, template, updated_at FROM task_registry WHERE namespace = ? ORDER BY name',
    )
    .all(namespace) as {
    name: string;
    kind: string;
    version: string;
    input_schema: string | null;
    triggers: string | null;
    template: string | null;
    updated_at: number;
  }[];
  return rows.map((row) => ({
    name: row.name,
    kind: row.kind as RegisteredTask['kind'],
    version: row.version,
    inputSchema: row.input_schema === null ? null : (JSON.parse(row.input_schema) as unknown),
    triggers: row.triggers === null ? null : (JSON.parse(row.triggers) as RegisteredTask['triggers']),
    template: row.template === null ? null : (JSON.parse(row.template) as RegisteredTask['template']),
    updatedAt: row.updated_at,
  }));
}

export function nextDueAt(c: SqliteConnection, namespace: string, taskNames: readonly string[]): number | null {
  if (taskNames.length === 0) return null;
  const tasks = JSON.stringify(taskNames);
  const now = c.now();
  const queued = c
    .stmt(`SELECT MIN(available_at) AS due FROM runs INDEXED BY runs_due
      WHERE namespace = ? AND ${IS_QUEUED} AND available_at > ?
      AND queue_key IN (SELECT value FROM json_each(?))`)
    .get(namespace, now, tasks) as { due: number | null };
  const sleeping = c
    .stmt(`SELECT MIN(wake_at) AS due FROM runs INDEXED BY runs_sleeping
      WHERE namespace = ? AND status = 'Waiting' AND wake_at IS NOT NULL AND queue_key IN (SELECT value FROM json_each(?))`)
    .get(namespace, tasks) as { due: number | null };
  const dues = [queued.due, sleeping.due].filter((d): d is number => d !== null);
  return dues.length === 0 ? null : Math.min(...dues);
}
