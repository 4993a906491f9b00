/**
 * Events and schedules on SQLite. An event and the runs it triggers are written
 * in one transaction; a schedule fires by compare-and-set on next_fire_at plus
 * a unique (schedule_id, scheduled_at) fire record, with the run's rows, in one
 * transaction, so each (schedule, time) fires at most once across processes.
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
import type { SqliteConnection } from './connection.js';
import { createRuns } from './create-runs.js';

interface SqlEvent {
  id: string;
  namespace: string;
  key: string;
  payload: string | null;
  metadata: string;
  time: number;
}

function toEvent(row: SqlEvent): EventRow {
  return {
    id: row.id,
    namespace: row.namespace,
    key: row.key,
    payload: row.payload,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    time: row.time,
  };
}

export function pushEvent(
  c: SqliteConnection,
  event: EventRow,
  runs: readonly NewRun[],
  idempotency?: EventIdempotency,
): PushedEvent {
  if (idempotency) {
    const first = c
      .stmt('SELECT id, namespace, key, payload, metadata, time FROM events WHERE namespace = ? AND idempotency_key = ?')
      .get(event.namespace, idempotency.key) as SqlEvent | undefined;
    if (first && first.time + idempotency.windowMs > event.time)
      return { event: toEvent(first), outcome: 'deduplicated', runs: [] };
    // The key's window has passed: it moves to the new event.
    if (first) c.stmt('UPDATE events SET idempotency_key = NULL WHERE id = ?').run(first.id);
  }
  c.stmt('INSERT INTO events (id, namespace, key, payload, metadata, time, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
    event.id,
    event.namespace,
    event.key,
    event.payload,
    JSON.stringify(event.metadata),
    event.time,
    idempotency?.key ?? null,
  );
  // Durable waits listening to this key wake up and look at the new event.
  c.stmt(`UPDATE runs SET wake_at = @time WHERE status = 'Waiting' AND (wake_at IS NULL OR wake_at > @time)
    AND id IN (SELECT run_id FROM event_waits WHERE namespace = @namespace AND event_key = @key)`).run({
    time: event.time,
    namespace: event.namespace,
    key: event.key,
  });
  return { event, outcome: 'created', runs: runs.length > 0 ? createRuns(c, event.namespace, runs) : [] };
}

export function getEvent(c: SqliteConnection, namespace: string, id: string): EventRow | undefined {
  const row = c.stmt('SELECT * FROM events WHERE namespace = ? AND id = ?').get(namespace, id) as SqlEvent | undefined;
  return row ? toEvent(row) : undefined;
}

export function listEvents(c: SqliteConnection, filter: EventFilter): { items: EventRow[]; nextCursor: string | undefined } {
  const where = ['namespace = ?'];
  const params: unknown[] = [filter.namespace];
  if (filter.key !== undefined) {
    where.push('key = ?');
    params.push(filter.key);
  }
  if (filter.cursor !== undefined) {
    where.push('id < ?');
    params.push(filter.cursor);
  }
  const rows = c
    .stmt(`SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`)
    .all(...params, filter.limit + 1) as SqlEvent[];
  const items = rows.slice(0, filter.limit).map(toEvent);
  return { items, nextCursor: rows.length > filter.limit ? items[items.length - 1]?.id : undefined };
}

interface SqlSchedule {
  id: string;
  namespace: string;
  kind: string;
  target_name: string;
  target: string;
  input: string | null;
  metadata: string;
  cron: string | null;
  timezone: string | null;
  overlap: string;
  misfire: string;
  from_code: number;
  next_fire_at: number | null;
  last_run_id: string | null;
  last_fired_at: number | null;
  created_at: number;
}

function toSchedule(row: SqlSchedule): ScheduleRow {
  return {
    id: row.id,
    namespace: row.namespace,
    kind: row.kind as ScheduleRow['kind'],
    targetName: row.target_name,
    target: JSON.parse(row.target) as ScheduleRow['target'],
    input: row.input,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    cron: row.cron,
    timezone: row.timezone,
    overlap: row.overlap as ScheduleRow['overlap'],
    misfire: row.misfire as ScheduleRow['misfire'],
    fromCode: row.from_code === 1,
    nextFireAt: row.next_fire_at,
    lastRunId: row.last_run_id,
    lastFiredAt: row.last_fired_at,
    createdAt: row.created_at,
  };
}

const INSERT_SCHEDULE = `INSERT INTO schedules (id, namespace, kind, target_name, target, input, metadata, cron, timezone, overlap,
  misfire, from_code, next_fire_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

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
    s.fromCode ? 1 : 0,
    s.nextFireAt,
    now,
  ];
}

export function createSchedule(c: SqliteConnection, schedule: NewSchedule): ScheduleRow {
  c.stmt(INSERT_SCHEDULE).run(...scheduleParams(schedule, c.now()));
  return toSchedule(c.stmt('SELECT * FROM schedules WHERE id = ?').get(schedule.id) as SqlSchedule);
}

export function syncCodeSchedules(
  c: SqliteConnection,
  namespace: string,
  targetName: string,
  schedules: readonly NewSchedule[],
): void {
  const now = c.now();
  const upsert = c.stmt(`${INSERT_SCHEDULE}
    ON CONFLICT (id) DO UPDATE SET target = excluded.target, input = excluded.input, metadata = excluded.metadata,
      overlap = excluded.overlap, misfire = excluded.misfire`);
  for (const s of schedules) upsert.run(...scheduleParams(s, now));
  const keep = new Set(schedules.map((s) => s.id));
  const existing = c
    .stmt('SELECT id FROM schedules WHERE namespace = ? AND target_name = ? AND from_code = 1')
    .all(namespace, targetName) as { id: string }[];
  for (const { id } of existing) if (!keep.has(id)) c.stmt('DELETE FROM schedules WHERE id = ?').run(id);
}

export function listSchedules(c: SqliteConnection, namespace: string): ScheduleRow[] {
  return (c.stmt('SELECT * FROM schedules WHERE namespace = ? ORDER BY created_at, id').all(namespace) as SqlSchedule[]).map(
    toSchedule,
  );
}

export function deleteSchedule(c: SqliteConnection, namespace: string, id: string): boolean {
  return c.stmt('DELETE FROM schedules WHERE namespace = ? AND id = ?').run(namespace, id).changes > 0;
}

export function dueSchedules(c: SqliteConnection, namespace: string, limit: number): ScheduleRow[] {
  return (
    c
      .stmt('SELECT * FROM schedules WHERE namespace = ? AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?')
      .all(namespace, c.now(), limit) as SqlSchedule[]
  ).map(toSchedule);
}

export function nextScheduleAt(c: SqliteConnection, namespace: string): number | null {
  const row = c.stmt('SELECT MIN(next_fire_at) AS next FROM schedules WHERE namespace = ?').get(namespace) as {
    next: number | null;
  };
  return row.next;
}

export function fireSchedule(c: SqliteConnection, request: FireRequest): FireResult {
  const now = c.now();
  const moved = c
    .stmt('UPDATE schedules SET next_fire_at = ? WHERE namespace = ? AND id = ? AND next_fire_at = ?')
    .run(request.nextFireAt, request.namespace, request.scheduleId, request.expectedNextFireAt);
  if (moved.changes === 0) return { outcome: 'lost' };
  if (request.scheduledAt === null || request.runs.length === 0) return { outcome: 'advanced' };
  const recorded = c
    .stmt(
      'INSERT INTO schedule_fires (schedule_id, scheduled_at, run_id, fired_at) VALUES (?, ?, NULL, ?) ON CONFLICT DO NOTHING',
    )
    .run(request.scheduleId, request.scheduledAt, now);
  if (recorded.changes === 0) return { outcome: 'lost' };
  const schedule = c.stmt('SELECT overlap, last_run_id FROM schedules WHERE id = ?').get(request.scheduleId) as {
    overlap: string;
    last_run_id: string | null;
  };
  let previousRunId: string | undefined;
  if (schedule.overlap !== 'queue' && schedule.last_run_id !== null) {
    const last = c.stmt('SELECT status FROM runs WHERE id = ?').get(schedule.last_run_id) as { status: StateName } | undefined;
    if (last && !TERMINAL_STATES.includes(last.status)) {
      if (schedule.overlap === 'skip') return { outcome: 'skipped' };
      previousRunId = schedule.last_run_id;
    }
  }
  createRuns(c, request.namespace, request.runs);
  const runId = (request.runs[0] as NewRun).id;
  c.stmt('UPDATE schedule_fires SET run_id = ? WHERE schedule_id = ? AND scheduled_at = ?').run(
    runId,
    request.scheduleId,
    request.scheduledAt,
  );
  c.stmt('UPDATE schedules SET last_run_id = ?, last_fired_at = ? WHERE id = ?').run(runId, now, request.scheduleId);
  return previousRunId ? { outcome: 'fired', runId, previousRunId } : { outcome: 'fired', runId };
}
