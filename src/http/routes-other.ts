/** /api/v1 events, schedules, workers, tasks, stats and the dashboard session. */
import type { Hono } from 'hono';
import { toScheduleInfo } from '../api/schedules.js';
import { scheduleByName } from '../api/start-by-name.js';
import { listWorkerSummaries } from '../api/worker-list.js';
import { parseDuration } from '../engine/duration.js';
import { closeSession, openSession } from './auth.js';
import { HttpError } from './errors.js';
import { readBody, readQuery } from './request.js';
import { createScheduleSchema, listEventsQuery, pushEventSchema, sessionSchema, statsQuery } from './schemas.js';
import type { HttpHost, HttpVariables } from './scope.js';
import { chartBuckets } from './stats.js';
import { jsonView } from './views.js';

export function otherRoutes(app: Hono<{ Variables: HttpVariables }>): void {
  app.post('/events', async (c) => {
    const body = await readBody(c, pushEventSchema);
    // An `Idempotency-Key` header is the same as `idempotencyKey`; a repeat answers 200 with the first event.
    const idempotencyKey = c.req.header('idempotency-key') ?? body.idempotencyKey;
    const pushed = await c.get('api').events.pushWithOutcome(body.key, body.payload, {
      ...(body.metadata ? { metadata: body.metadata as never } : {}),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    });
    return c.json(jsonView(pushed.event), pushed.outcome === 'deduplicated' ? 200 : 201);
  });

  app.get('/events', async (c) => {
    const q = readQuery(c, listEventsQuery);
    const list = await c.get('api').events.list({
      ...(q.key === undefined ? {} : { key: q.key }),
      ...(q.limit === undefined ? {} : { limit: q.limit }),
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    });
    return c.json({ items: jsonView(list.items), ...(list.nextCursor ? { nextCursor: list.nextCursor } : {}) });
  });

  app.get('/schedules', async (c) => c.json({ items: jsonView(await c.get('api').schedules.list()) }));

  app.post('/schedules', async (c) => {
    const body = await readBody(c, createScheduleSchema);
    const row = await scheduleByName(c.get('api').runtime, {
      kind: body.workflow !== undefined ? 'workflow' : 'task',
      name: (body.task ?? body.workflow) as string,
      ...(body.cron === undefined ? {} : { cron: body.cron }),
      ...(body.timezone === undefined ? {} : { timezone: body.timezone }),
      ...(body.at === undefined ? {} : { at: body.at }),
      ...(body.overlap === undefined ? {} : { overlap: body.overlap }),
      ...(body.misfire === undefined ? {} : { misfire: body.misfire }),
      input: body.input,
    });
    return c.json(jsonView(toScheduleInfo(row)), 201);
  });

  app.delete('/schedules/:id', async (c) => {
    const deleted = await c.get('api').schedules.delete(c.req.param('id'));
    if (!deleted) throw new HttpError(404, 'BATON_NOT_FOUND', `no schedule with id ${c.req.param('id')}`);
    return c.body(null, 204);
  });

  app.get('/workers', async (c) => {
    const api = c.get('api');
    return c.json({ items: jsonView(await listWorkerSummaries(await api.runtime.store(), api.namespace)) });
  });

  app.get('/tasks', async (c) => {
    const api = c.get('api');
    const tasks = await (await api.runtime.store()).listTasks(api.namespace);
    return c.json({
      items: tasks.map((t) => ({
        name: t.name,
        kind: t.kind,
        version: t.version,
        ...(t.inputSchema ? { inputSchema: t.inputSchema } : {}),
      })),
    });
  });

  app.get('/stats', async (c) => {
    const q = readQuery(c, statsQuery);
    const api = c.get('api');
    const windowMs = parseDuration(q.window ?? '1h');
    const buckets = q.buckets ?? 30;
    const now = api.runtime.clock.now();
    const rows = await (await api.runtime.store()).runStats(api.namespace, now - windowMs, 50_000);
    return c.json({ byState: rows.byStatus, buckets: chartBuckets(rows.ended, now - windowMs, now, buckets) });
  });
}

/** Dashboard login and logout: outside the token check (the login is what checks the token). */
export function sessionRoutes(app: Hono, host: HttpHost): void {
  app.post('/session', async (c) => openSession(c, host, (await readBody(c, sessionSchema)).token));
  app.delete('/session', (c) => closeSession(c));
}
