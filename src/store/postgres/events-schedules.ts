/**
 * Events and schedules on PostgreSQL (same semantics as the SQLite file of the
 * same name). A schedule fires by compare-and-set on next_fire_at (a concurrent
 * UPDATE waits for the first and then sees the moved value) plus a unique
 * (schedule_id, scheduled_at) fire record, with the run's rows, in one transaction.
 */
import { TERMINAL_STATES } from '../../engine/states.js';
import type { StateName } from '../../engine/types.js';
import type {
  EventFilter,
  EventIdempotency,
  EventRow,
  FireRequest,
  FireResult,
  NewRun,
  NewSchedule,
  PushedEvent,
  ScheduleRow,
} from '../types.js';
import type { PgConnection, Tx } from './connection.js';
import { createRuns } from './create-runs.js';
import { lockEventKeys } from './steps.js';

interface PgEvent {
  id: string;
  namespace: string;
  key: string;
  payload: string | null;
  metadata: Record<string, unknown>;
  time: number;
}

function toEvent(row: PgEvent): EventRow {
  return {
    id: row.id,
    namespace: row.namespace,
    key: row.key,
    payload: row.payload,
    metadata: row.metadata,
    time: Number(row.time),
  };
}

export async function pushEvent(
  tx: Tx,
  event: EventRow,
  runs: readonly NewRun[],
  idempotency?: EventIdempotency,
): Promise<PushedEvent> {
  const { t } = tx;
  await lockEventKeys(tx, event.namespace, [event.key]);
  for (;;) {
    // A concurrent push of the same key waits here for the first to commit, then sees its row.
    const inserted = await tx.query(
      `INSERT INTO ${t.events} (id, namespace, key, payload, metadata, time, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (namespace, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
      [event.id, event.namespace, event.key, event.payload, JSON.stringify(event.metadata), event.time, idempotency?.key ?? null],
    );
    if (inserted.rowCount || !idempotency) break;
    const first = await tx.query<PgEvent>(
      `SELECT id, namespace, key, payload, metadata, time FROM ${t.events} WHERE namespace = $1 AND idempotency_key = $2`,
      [event.namespace, idempotency.key],
    );
    const row = first.rows[0];
    if (row && Number(row.time) + idempotency.windowMs > event.time) {
      return { event: toEvent(row), outcome: 'deduplicated', runs: [] };
    }
    // The key's window has passed (or its event just moved on): it moves to the new event.
    if (row) {
      await tx.query(`UPDATE ${t.events} SET idempotency_key = NULL WHERE id = $1 AND idempotency_key = $2`, [
        row.id,
        idempotency.key,
      ]);
    }
  }
  // Durable waits listening to this key wake up and look at the new event. Rows are locked in id
  // order, so concurrent pushes to one key queue up instead of deadlocking, and a run already due
  // to wake by then is left alone (a burst of pushes does not rewrite every waiter again and again).
  await tx.query(
    `UPDATE ${t.runs} r SET wake_at = $1
     FROM (SELECT w.id FROM ${t.runs} w
           WHERE w.status = 'Waiting' AND (w.wake_at IS NULL OR w.wake_at > $1)
             AND w.id IN (SELECT run_id FROM ${t.eventWaits} WHERE namespace = $2 AND event_key = $3)
           ORDER BY w.id FOR UPDATE) due
     WHERE r.id = due.id`,
    [event.time, event.namespace, event.key],
  );
  return { event, outcome: 'created', runs: runs.length > 0 ? await createRuns(tx, event.namespace, runs) : [] };
}

export async function getEvent(c: PgConnection, namespace: string, id: string): Promise<EventRow | undefined> {
  const result = await c.query<PgEvent>(`SELECT * FROM ${c.t.events} WHERE namespace = $1 AND id = $2`, [namespace, id]);
  return result.rows[0] ? toEvent(result.rows[0]) : undefined;
}

export async function listEvents(
  c: PgConnection,
  filter: EventFilter,
): Promise<{ items: EventRow[]; nextCursor: string | undefined }> {
  const where = ['namespace = $1'];
  const params: unknown[] = [filter.namespace];
  if (filter.key !== undefined) {
    params.push(filter.key);
    where.push(`key = $${params.length}`);
  }
  if (filter.cursor !== undefined) {
    params.push(filter.cursor);
    where.push(`id < $${params.length}`);
  }
  params.push(filter.limit + 1);
  const result = await c.query<PgEvent>(
    `SELECT * FROM ${c.t.events} WHERE ${where.join(' AND ')} ORDER BY id COLLATE "C" DESC LIMIT $${params.length}`,
    params,
  );
  const items = result.rows.slice(0, filter.limit).map(toEvent);
  return { items, nextCursor: result.rows.length > filter.limit ? items[items.length - 1]?.id : undefined };
}

interface PgSchedule {
  id: string;
  namespace: string;
  kind: string;
  target_name: string;
  target: ScheduleRow['target'];
  input: string | null;
  metadata: Record<string, unknown>;
  cron: string | null;
  timezone: string | null;
  overlap: string;
  misfire: string;
  from_code: boolean;
  next_fire_at: number | null;
  last_run_id: string | null;
  last_fired_at: number | null;
  created_at: number;
}

function toSchedule(row: PgSchedule): ScheduleRow {
  return {
    id: row.id,
    namespace: row.namespace,
    kind: row.kind as ScheduleRow['kind'],
    targetName: row.target_name,
    target: row.target,
    input: row.input,
    metadata: row.metadata,
    cron: row.cron,
    timezone: row.timezone,
    overlap: row.overlap as ScheduleRow['overlap'],
    misfire: row.misfire as ScheduleRow['misfire'],
    fromCode: row.from_code,
    nextFireAt: row.next_fire_at === null ? null : Number(row.next_fire_at),
    lastRunId: row.last_run_id,
    lastFiredAt: row.last_fired_at === null ? null : Number(row.last_fired_at),
    createdAt: Number(row.created_at),
  };
}

function insertSql(table: string): string {
  return `INSERT INTO ${table} (id, namespace, kind, target_name, target, input, metadata, cron, timezone, overlap,
    misfire, from_code, next_fire_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`;
}

function scheduleParams(s: NewSchedule, now: number): unknown[] {
  return [
    s.id,
    s.namespace,
    s.kind,
    s.targetName,
    JSON.stringify(s.target),
    s.input,
    JSON.stringify(s.metadata),
    s.cron,
    s.timezone,
    s.overlap,
    s.misfire,
    s.fromCode,
    s.nextFireAt,
    now,
  ];
}

export async function createSchedule(tx: Tx, schedule: NewSchedule): Promise<ScheduleRow> {
  const result = await tx.query<PgSchedule>(`${insertSql(tx.t.schedules)} RETURNING *`, scheduleParams(schedule, tx.now));
  return toSchedule(result.rows[0] as PgSchedule);
}

export async function syncCodeSchedules(
  tx: Tx,
  namespace: string,
  targetName: string,
  schedules: readonly NewSchedule[],
): Promise<void> {
  const sorted = [...schedules].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const s of sorted) {
    await tx.query(
      `${insertSql(tx.t.schedules)} ON CONFLICT (id) DO UPDATE SET target = excluded.target, input = excluded.input,
        metadata = excluded.metadata, overlap = excluded.overlap, misfire = excluded.misfire`,
      scheduleParams(s, tx.now),
    );
  }
  await tx.query(
    `DELETE FROM ${tx.t.schedules} WHERE namespace = $1 AND target_name = $2 AND from_code AND NOT (id = ANY($3::text[]))`,
    [namespace, targetName, sorted.map((s) => s.id)],
  );
}

export async function listSchedules(c: PgConnection, namespace: string): Promise<ScheduleRow[]> {
  const result = await c.query<PgSchedule>(
    `SELECT * FROM ${c.t.schedules} WHERE namespace = $1 ORDER BY created_at, id COLLATE "C"`,
    [namespace],
  );
  return result.rows.map(toSchedule);
}

export async function deleteSchedule(tx: Tx, namespace: string, id: string): Promise<boolean> {
  const result = await tx.query(`DELETE FROM ${tx.t.schedules} WHERE namespace = $1 AND id = $2`, [namespace, id]);
  return (result.rowCount ?? 0) > 0;
}

export async function dueSchedules(c: PgConnection, namespace: string, limit: number): Promise<ScheduleRow[]> {
  const now = await c.now();
  const result = await c.query<PgSchedule>(
    `SELECT * FROM ${c.t.schedules} WHERE namespace = $1 AND next_fire_at <= $2 ORDER BY next_fire_at LIMIT $3`,
    [namespace, now, limit],
  );
  return result.rows.map(toSchedule);
}

export async function nextScheduleAt(c: PgConnection, namespace: string): Promise<number | null> {
  const result = await c.query<{ next: number | null }>(
    `SELECT MIN(next_fire_at) AS next FROM ${c.t.schedules} WHERE namespace = $1`,
    [namespace],
  );
  const next = result.rows[0]?.next;
  return next === null || next === undefined ? null : Number(next);
}

export async function fireSchedule(tx: Tx, request: FireRequest): Promise<FireResult> {
  const moved = await tx.query<{ overlap: string; last_run_id: string | null }>(
    `UPDATE ${tx.t.schedules} SET next_fire_at = $1 WHERE namespace = $2 AND id = $3 AND next_fire_at = $4
     RETURNING overlap, last_run_id`,
    [request.nextFireAt, request.namespace, request.scheduleId, request.expectedNextFireAt],
  );
  const schedule = moved.rows[0];
  if (!schedule) return { outcome: 'lost' };
  if (request.scheduledAt === null || request.runs.length === 0) return { outcome: 'advanced' };
  const recorded = await tx.query(
    `INSERT INTO ${tx.t.fires} (schedule_id, scheduled_at, run_id, fired_at) VALUES ($1, $2, NULL, $3) ON CONFLICT DO NOTHING`,
    [request.scheduleId, request.scheduledAt, tx.now],
  );
  if (!recorded.rowCount) return { outcome: 'lost' };
  let previousRunId: string | undefined;
  if (schedule.overlap !== 'queue' && schedule.last_run_id !== null) {
    const last = await tx.query<{ status: StateName }>(`SELECT status FROM ${tx.t.runs} WHERE id = $1`, [schedule.last_run_id]);
    const status = last.rows[0]?.status;
    if (status && !TERMINAL_STATES.includes(status)) {
      if (schedule.overlap === 'skip') return { outcome: 'skipped' };
      previousRunId = schedule.last_run_id;
    }
  }
  await createRuns(tx, request.namespace, request.runs);
  const runId = (request.runs[0] as NewRun).id;
  await tx.query(`UPDATE ${tx.t.fires} SET run_id = $1 WHERE schedule_id = $2 AND scheduled_at = $3`, [
    runId,
    request.scheduleId,
    request.scheduledAt,
  ]);
  await tx.query(`UPDATE ${tx.t.schedules} SET last_run_id = $1, last_fired_at = $2 WHERE id = $3`, [
    runId,
    tx.now,
    request.scheduleId,
  ]);
  return previousRunId ? { outcome: 'fired', runId, previousRunId } : { outcome: 'fired', runId };
}
