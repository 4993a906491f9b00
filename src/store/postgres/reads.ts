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
import { type PgConnection, PREPARED } from './connection.js';
import {
  type PgAttemptRow,
  type PgLogRow,
  type PgRunRow,
  type PgStateRow,
  type PgWorkerRow,
  RUN_COLUMNS,
  toAttemptRow,
  toLogRow,
  toRunRow,
  toStateRow,
  toWorkerRow,
} from './rows.js';

export async function getRun(c: PgConnection, namespace: string, runId: string): Promise<RunRow | undefined> {
  const result = await c.query<PgRunRow>(`SELECT ${RUN_COLUMNS} FROM ${c.t.runs} WHERE id = $1 AND namespace = $2`, [
    runId,
    namespace,
  ]);
  return result.rows[0] ? toRunRow(result.rows[0]) : undefined;
}

export async function getRuns(c: PgConnection, namespace: string, runIds: readonly string[]): Promise<RunRow[]> {
  if (runIds.length === 0) return [];
  const result = await c.query<PgRunRow>(`SELECT ${RUN_COLUMNS} FROM ${c.t.runs} WHERE namespace = $1 AND id = ANY($2::text[])`, [
    namespace,
    runIds,
  ]);
  return result.rows.map(toRunRow);
}

export async function listWorkflowTasks(c: PgConnection, namespace: string, workflowRunId: string): Promise<RunRow[]> {
  const result = await c.query<PgRunRow>(
    `SELECT ${RUN_COLUMNS} FROM ${c.t.runs}
     WHERE workflow_run_id = $1 AND namespace = $2 AND kind = 'task' AND id != workflow_run_id`,
    [workflowRunId, namespace],
    PREPARED,
  );
  return result.rows.map(toRunRow);
}

export async function getDag(c: PgConnection, namespace: string, workflowRunId: string): Promise<StoredDag | undefined> {
  const result = await c.query<{ dag: StoredDag | null }>(
    `SELECT dag FROM ${c.t.runs} WHERE id = $1 AND namespace = $2 AND kind = 'workflow'`,
    [workflowRunId, namespace],
  );
  return result.rows[0]?.dag ?? undefined;
}

export async function listRuns(c: PgConnection, filter: RunFilter): Promise<RunPage> {
  const params: unknown[] = [filter.namespace];
  const where = ['namespace = $1'];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filter.statuses && filter.statuses.length > 0) where.push(`status = ANY(${param(filter.statuses)}::text[])`);
  if (filter.taskName !== undefined) where.push(`task_name = ${param(filter.taskName)}`);
  if (filter.parentRunId !== undefined) where.push(`parent_run_id = ${param(filter.parentRunId)}`);
  if (filter.createdAfter !== undefined) where.push(`created_at >= ${param(filter.createdAfter)}`);
  if (filter.createdBefore !== undefined) where.push(`created_at < ${param(filter.createdBefore)}`);
  if (filter.tags && Object.keys(filter.tags).length > 0)
    where.push(`tags::jsonb @> ${param(JSON.stringify(filter.tags))}::jsonb`);
  const cursor = filter.cursor ? decodeCursor(filter.cursor) : undefined;
  if (cursor) {
    const at = param(cursor.createdAt);
    const id = param(cursor.id);
    where.push(`(created_at < ${at} OR (created_at = ${at} AND id < ${id}))`);
  }
  const limit = param(filter.limit + 1);
  const result = await c.query<PgRunRow>(
    `SELECT ${RUN_COLUMNS} FROM ${c.t.runs} WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${limit}`,
    params,
  );
  const items = result.rows.slice(0, filter.limit).map(toRunRow);
  const last = items[items.length - 1];
  return { items, nextCursor: result.rows.length > filter.limit && last ? encodeCursor(last.createdAt, last.id) : undefined };
}

export async function listStates(c: PgConnection, runId: string): Promise<StateRow[]> {
  const result = await c.query<PgStateRow>(
    `SELECT run_id, attempt, type, name, at, message, error, waiting_on FROM ${c.t.states} WHERE run_id = $1 ORDER BY id`,
    [runId],
  );
  return result.rows.map(toStateRow);
}

export async function listLogs(c: PgConnection, runId: string): Promise<LogRow[]> {
  const result = await c.query<PgLogRow>(
    `SELECT run_id, attempt, at, level, message, fields FROM ${c.t.logs} WHERE run_id = $1 ORDER BY id`,
    [runId],
  );
  return result.rows.map(toLogRow);
}

export async function listAttempts(c: PgConnection, runId: string): Promise<AttemptRow[]> {
  const result = await c.query<PgAttemptRow>(
    `SELECT run_id, epoch, attempt, worker_id, started_at, ended_at, outcome FROM ${c.t.attempts}
     WHERE run_id = $1 ORDER BY epoch`,
    [runId],
  );
  return result.rows.map(toAttemptRow);
}

export async function readStream(c: PgConnection, runId: string, afterSeq: number, limit: number): Promise<StreamChunkRow[]> {
  const result = await c.query<{ run_id: string; seq: number; data: string; at: number }>(
    `SELECT run_id, seq, data, at FROM ${c.t.streams} WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [runId, afterSeq, limit],
  );
  return result.rows.map((row) => ({ runId: row.run_id, seq: row.seq, data: row.data, at: row.at }));
}

export async function loadCheckpoint(c: PgConnection, runId: string): Promise<string | null> {
  const result = await c.query<{ checkpoint: string | null }>(`SELECT checkpoint FROM ${c.t.runs} WHERE id = $1`, [runId]);
  return result.rows[0]?.checkpoint ?? null;
}

export async function listWorkers(c: PgConnection, namespace: string, liveOnly: boolean): Promise<WorkerRow[]> {
  const result = await c.query<PgWorkerRow>(
    `SELECT id, namespace, name, labels, slots, task_names, host, pid, started_at, heartbeat_at, lease_ms, stopped_at
     FROM ${c.t.workers} WHERE namespace = $1 ORDER BY started_at`,
    [namespace],
  );
  const now = liveOnly ? await c.now() : 0;
  return result.rows.map(toWorkerRow).filter((w) => !liveOnly || (w.stoppedAt === null && w.heartbeatAt + w.leaseMs > now));
}

export async function listTasks(c: PgConnection, namespace: string): Promise<RegisteredTask[]> {
  const result = await c.query<{
    name: string;
    kind: string;
    version: string;
    input_schema: unknown;
    triggers: RegisteredTask['triggers'];
    template: RegisteredTask['template'];
    updated_at: number;
  }>(
    `SELECT name, kind, version, input_schema, triggers, template, updated_at FROM ${c.t.registry} WHERE namespace = $1 ORDER BY name COLLATE "C"`,
    [namespace],
  );
  return result.rows.map((row) => ({
    name: row.name,
    kind: row.kind as RegisteredTask['kind'],
    version: row.version,
    inputSchema: row.input_schema ?? null,
    triggers: row.triggers ?? null,
    template: row.template ?? null,
    updatedAt: row.updated_at,
  }));
}

export async function nextDueAt(c: PgConnection, namespace: string, taskNames: readonly string[]): Promise<number | null> {
  if (taskNames.length === 0) return null;
  const now = await c.now();
  // Two partial indexes hold the queue: runs_queue (plain runs) and runs_gated (runs with flow-control rules).
  const result = await c.query<{ due: number | null }>(
    `SELECT LEAST(
       (SELECT MIN(available_at) FROM ${c.t.runs}
        WHERE namespace = $1 AND status IN ('Scheduled', 'Pending', 'AwaitingRetry') AND gate IS NULL AND available_at > $2
          AND queue_key = ANY($3::text[])),
       (SELECT MIN(available_at) FROM ${c.t.runs}
        WHERE namespace = $1 AND status IN ('Scheduled', 'Pending', 'AwaitingRetry') AND gate IS NOT NULL AND available_at > $2
          AND queue_key = ANY($3::text[]))) AS due`,
    [namespace, now, taskNames],
  );
  const sleeping = await c.query<{ due: number | null }>(
    `SELECT MIN(wake_at) AS due FROM ${c.t.runs}
     WHERE namespace = $1 AND status = 'Waiting' AND wake_at IS NOT NULL AND queue_key = ANY($2::text[])`,
    [namespace, taskNames],
  );
  const dues = [result.rows[0]?.due, sleeping.rows[0]?.due].filter((d): d is number => d !== null && d !== undefined).map(Number);
  return dues.length === 0 ? null : Math.min(...dues);
}
