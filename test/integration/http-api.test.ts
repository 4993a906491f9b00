/**
 * The HTTP API (docs/http-api.md) on both stores, through `baton.http().fetch`
 * (the same app `baton.serve()` serves): every route's success and error
 * statuses, auth on every route, namespaces and scopes, body limits, SSE, and
 * the OpenAPI document.
 */

import { validate } from '@readme/openapi-parser';
import type { Baton, TaskContext, Worker } from 'baton';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createHttpApp } from '../../src/http/app.js';
import { documentedRoutes } from '../../src/http/openapi.js';
import type { HttpHost } from '../../src/http/scope.js';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor } from '../support/wait.js';

type Fetch = (request: Request) => Promise<Response>;

describeEachStore('HTTP API', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;
  let fetchApp: Fetch;
  let token: string;
  let readToken: string;
  let otherNsToken: string;
  const workers: Worker[] = [];
  let gate = deferred<void>();

  beforeEach(async () => {
    gate = deferred<void>();
    fixture = await createFixture(backend);
    baton = fixture.baton();
    const greet = baton.task(
      { name: 'greet', input: z.object({ name: z.string().min(1) }) },
      async (input: { name: string }, ctx: TaskContext) => {
        await ctx.log(`greeting ${input.name}`);
        await ctx.putStream({ chunk: 1 });
        return `hello ${input.name}`;
      },
    );
    const stuck = baton.task({ name: 'stuck' }, async (_: unknown, ctx: TaskContext) => {
      await Promise.race([gate.promise, new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }))]);
    });
    const wf = baton.workflow({ name: 'pipeline' });
    const first = wf.task({ name: 'first' }, async () => 1);
    wf.task({ name: 'second', parents: [first] }, async () => 2);
    const worker = baton.worker({
      name: 'w',
      slots: 4,
      pollInterval: '20ms',
      shutdownTimeout: '200ms',
      tasks: [greet, stuck, wf],
    });
    await worker.start();
    workers.push(worker);
    fetchApp = baton.http().fetch;
    token = (await baton.tokens.create({ scope: 'write' })).token;
    readToken = (await baton.tokens.create({ scope: 'read' })).token;
    otherNsToken = (await baton.tokens.create({ namespaces: ['other'] })).token;
  });

  afterEach(async () => {
    gate.resolve();
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await fixture.cleanup();
  });

  function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, bearer = token) {
    const init: RequestInit = {
      method,
      headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), 'content-type': 'application/json', ...headers },
    };
    if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
    return fetchApp(new Request(`http://baton.test${path}`, init));
  }

  async function json(response: Response): Promise<Record<string, unknown>> {
    return (await response.json()) as Record<string, unknown>;
  }

  async function startGreet(name = 'ada'): Promise<string> {
    const response = await call('POST', '/api/v1/runs', { task: 'greet', input: { name } });
    expect(response.status).toBe(201);
    return (await json(response)).id as string;
  }

  it('starts a run, reads it, its logs and its stream, and lists it', async () => {
    const id = await startGreet();
    await (await baton.runs.get(id)).result();
    const run = await json(await call('GET', `/api/v1/runs/${id}`));
    expect(run).toMatchObject({ id, taskName: 'greet', kind: 'task', input: { name: 'ada' }, output: 'hello ada' });
    expect((run.state as { name: string }).name).toBe('Completed');
    expect((run.states as { name: string }[]).map((s) => s.name)).toEqual(['Pending', 'Running', 'Completed']);
    expect((run.attempts as unknown[]).length).toBe(1);
    const logs = await json(await call('GET', `/api/v1/runs/${id}/logs`));
    expect(logs.items).toMatchObject([{ level: 'info', message: 'greeting ada', attempt: 0 }]);
    const stream = await (await call('GET', `/api/v1/runs/${id}/stream`)).text();
    expect(stream).toContain('event: chunk');
    expect(stream).toContain('"data":{"chunk":1}');
    expect(stream).toContain('event: end');
    const list = await json(await call('GET', '/api/v1/runs?task=greet&status=COMPLETED&limit=10'));
    expect((list.items as { id: string }[]).map((r) => r.id)).toEqual([id]);
  });

  it('pages with cursors and filters by tag', async () => {
    for (const n of ['a', 'b', 'c']) {
      const r = await call('POST', '/api/v1/runs', { task: 'greet', input: { name: n }, options: { tags: { batch: 'x' } } });
      expect(r.status).toBe(201);
    }
    const page1 = await json(await call('GET', '/api/v1/runs?tag=batch:x&limit=2'));
    expect((page1.items as unknown[]).length).toBe(2);
    const page2 = await json(await call('GET', `/api/v1/runs?tag=batch:x&limit=2&cursor=${page1.nextCursor as string}`));
    expect((page2.items as unknown[]).length).toBe(1);
    expect(page2.nextCursor).toBeUndefined();
    expect((await call('GET', '/api/v1/runs?tag=nocolon')).status).toBe(400);
    expect((await call('GET', '/api/v1/runs?limit=0')).status).toBe(400);
    expect((await call('GET', '/api/v1/runs?status=Nope')).status).toBe(422);
  });

  it('idempotent repeats answer 200 with the first id, a different input 409', async () => {
    const body = { task: 'greet', input: { name: 'ada' } };
    const first = await call('POST', '/api/v1/runs', body, { 'idempotency-key': 'k1' });
    expect(first.status).toBe(201);
    const again = await call('POST', '/api/v1/runs', body, { 'idempotency-key': 'k1' });
    expect(again.status).toBe(200);
    expect(await json(again)).toEqual({ ...(await json(first)), outcome: 'deduplicated' });
    const other = await call('POST', '/api/v1/runs', { task: 'greet', input: { name: 'bob' } }, { 'idempotency-key': 'k1' });
    expect(other.status).toBe(409);
  });

  it('bad input: 400 malformed JSON with the position, 404 unknown task, 422 schema fields, 413 too large; nothing stored', async () => {
    const answers: [number, Record<string, unknown>][] = [];
    for (const body of [
      '{"task": "greet", ',
      { task: 'nope' },
      { task: 'greet', input: { name: '' } },
      { task: 'greet', workflow: 'pipeline' },
      { task: 'greet', input: { name: 'x'.repeat(6 * 1024 * 1024) } },
    ]) {
      const response = await call('POST', '/api/v1/runs', body);
      const text = await response.text();
      expect(text).not.toMatch(/\n\s+at /);
      answers.push([response.status, JSON.parse(text) as Record<string, unknown>]);
    }
    const [malformed, unknown, invalid, shape, huge] = answers as [number, { error: { message: string } }][];
    expect(malformed?.[0]).toBe(400);
    expect(malformed?.[1].error.message).toMatch(/position \d+/);
    expect(unknown?.[0]).toBe(404);
    expect(unknown?.[1].error.message).toContain('"nope"');
    expect(invalid?.[0]).toBe(422);
    expect(invalid?.[1].error).toMatchObject({ code: 'BATON_VALIDATION', issues: [{ path: 'name' }] });
    expect(shape?.[0]).toBe(422);
    expect(huge?.[0]).toBe(413);
    expect((await baton.runs.list({})).items).toHaveLength(0);
  });

  it('a workflow run shows its DAG; cancel, retry and replay act on runs', async () => {
    const started = await json(await call('POST', '/api/v1/runs', { workflow: 'pipeline' }));
    await (await baton.runs.get(started.id as string)).result();
    const run = await json(await call('GET', `/api/v1/runs/${started.id as string}`));
    expect(run.kind).toBe('workflow');
    expect((run.dag as { tasks: { name: string; parents: string[]; state: { name: string } }[] }).tasks).toMatchObject([
      { name: 'first', parents: [], state: { name: 'Completed' } },
      { name: 'second', parents: ['first'], state: { name: 'Completed' } },
    ]);
    const stuck = await json(await call('POST', '/api/v1/runs', { task: 'stuck' }));
    await waitFor(async () => (await (await baton.runs.get(stuck.id as string)).state()).name === 'Running');
    expect((await call('POST', `/api/v1/runs/${stuck.id as string}/cancel`, { reason: 'from the test' })).status).toBe(200);
    await waitFor(async () => (await (await baton.runs.get(stuck.id as string)).state()).name === 'Cancelled');
    const retried = await call('POST', `/api/v1/runs/${stuck.id as string}/retry`, {});
    expect(retried.status).toBe(200);
    const replay = await call('POST', `/api/v1/runs/${started.id as string}/replay`, {});
    expect(replay.status).toBe(201);
    expect((await json(replay)).id).not.toBe(started.id);
    const completedRetry = await call('POST', `/api/v1/runs/${started.id as string}/retry`, {});
    expect(completedRetry.status).toBe(409);
    expect((await call('GET', '/api/v1/runs/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await call('POST', '/api/v1/runs/00000000-0000-0000-0000-000000000000/cancel', {})).status).toBe(404);
    expect((await call('POST', `/api/v1/runs/${started.id as string}/fork`, {})).status).toBe(422);
  });

  it('bulk cancel by filter', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await json(await call('POST', '/api/v1/runs', { task: 'stuck' }))).id as string);
    const result = await json(await call('POST', '/api/v1/runs/bulk/cancel', { filter: { task: 'stuck' }, reason: 'cleanup' }));
    expect(result.count).toBe(3);
    await waitFor(async () => {
      const states = await Promise.all(ids.map(async (id) => (await (await baton.runs.get(id)).state()).name));
      return states.every((s) => s === 'Cancelled');
    });
    expect((await call('POST', '/api/v1/runs/bulk/cancel', { filter: { nope: 1 } })).status).toBe(422);
  });

  it('live SSE sends the state changes and log lines of a run, then end', async () => {
    const id = await startGreet('eve');
    const text = await (await call('GET', `/api/v1/runs/${id}/live`)).text();
    expect(text).toContain('event: state');
    expect(text).toContain('"name":"Completed"');
    expect(text).toContain('event: log');
    expect(text).toContain('greeting eve');
    expect(text.trim().endsWith(`data: {"id":"${id}"}`)).toBe(true);
  });

  it('events, schedules, workers, tasks and stats', async () => {
    const pushed = await call('POST', '/api/v1/events', { key: 'order:placed', payload: { n: 1 }, metadata: { via: 'test' } });
    expect(pushed.status).toBe(201);
    expect(await json(pushed)).toMatchObject({ key: 'order:placed', payload: { n: 1 } });
    expect((await json(await call('GET', '/api/v1/events?key=order:placed'))).items).toHaveLength(1);
    expect((await call('POST', '/api/v1/events', { payload: 1 })).status).toBe(422);

    const created = await call('POST', '/api/v1/schedules', { task: 'greet', cron: '*/5 * * * *', input: { name: 'cron' } });
    expect(created.status).toBe(201);
    const schedule = await json(created);
    expect(schedule).toMatchObject({ kind: 'cron', target: 'greet', cron: '*/5 * * * *' });
    expect((await json(await call('GET', '/api/v1/schedules'))).items).toHaveLength(1);
    expect((await call('POST', '/api/v1/schedules', { task: 'greet', cron: 'not a cron' })).status).toBe(422);
    expect((await call('POST', '/api/v1/schedules', { task: 'nope', cron: '* * * * *' })).status).toBe(404);
    expect((await call('DELETE', `/api/v1/schedules/${schedule.id as string}`)).status).toBe(204);
    expect((await call('DELETE', `/api/v1/schedules/${schedule.id as string}`)).status).toBe(404);

    const workersBody = await json(await call('GET', '/api/v1/workers'));
    expect(workersBody.items).toMatchObject([{ name: 'w', slots: 4, live: true }]);
    const tasks = await json(await call('GET', '/api/v1/tasks'));
    expect((tasks.items as { name: string }[]).map((t) => t.name).sort()).toEqual(['greet', 'pipeline', 'stuck']);
    await (await baton.runs.get(await startGreet())).result();
    const stats = await json(await call('GET', '/api/v1/stats?window=1h&buckets=6'));
    expect((stats.buckets as unknown[]).length).toBe(6);
    expect((stats.byState as Record<string, number>).Completed).toBeGreaterThanOrEqual(1);
    expect((await call('GET', '/api/v1/stats?buckets=0')).status).toBe(400);
  });

  it('every documented route refuses a missing or wrong token; read tokens only read; namespaces are enforced', async () => {
    for (const route of documentedRoutes()) {
      const [method, path] = route.split(' ') as [string, string];
      if (path === '/session') continue;
      const url = `/api/v1${path.replace('{id}', '01a20000-0000-7000-8000-000000000000')}`;
      expect((await call(method, url, method === 'GET' || method === 'DELETE' ? undefined : {}, {}, '')).status, route).toBe(401);
      expect(
        (await call(method, url, method === 'GET' || method === 'DELETE' ? undefined : {}, {}, 'baton_wrong')).status,
        route,
      ).toBe(401);
    }
    expect((await call('GET', '/metrics', undefined, {}, '')).status).toBe(401);
    expect((await call('GET', '/api/v1/runs', undefined, {}, readToken)).status).toBe(200);
    expect((await call('POST', '/api/v1/runs', { task: 'greet', input: { name: 'x' } }, {}, readToken)).status).toBe(403);
    expect((await call('GET', '/api/v1/runs', undefined, {}, otherNsToken)).status).toBe(403);
    expect((await call('GET', '/api/v1/runs?namespace=other', undefined, {}, otherNsToken)).status).toBe(200);
    const revoked = await baton.tokens.create();
    await baton.tokens.revoke(revoked.id);
    expect((await call('GET', '/api/v1/runs', undefined, {}, revoked.token)).status).toBe(401);
    expect((await baton.tokens.list()).find((t) => t.id === revoked.id)?.revokedAt).toBeInstanceOf(Date);
  });

  it('namespaces isolate runs', async () => {
    const id = await startGreet();
    const otherToken = (await baton.tokens.create({ namespaces: ['*'] })).token;
    expect((await call('GET', `/api/v1/runs/${id}?namespace=other`, undefined, {}, otherToken)).status).toBe(404);
    expect((await json(await call('GET', '/api/v1/runs?namespace=other', undefined, {}, otherToken))).items).toEqual([]);
  });

  it('the dashboard session: login sets HttpOnly cookies, changes need the CSRF header', async () => {
    const login = await call('POST', '/api/v1/session', { token }, {}, '');
    expect(login.status).toBe(200);
    const cookies = login.headers.getSetCookie();
    expect(cookies.find((c) => c.startsWith('baton_session='))).toMatch(/HttpOnly/i);
    expect(cookies.find((c) => c.startsWith('baton_session='))).toMatch(/SameSite=Strict/i);
    const cookieHeader = cookies.map((c) => c.split(';')[0]).join('; ');
    const csrf = (cookies.find((c) => c.startsWith('baton_csrf=')) as string).split(';')[0]?.split('=')[1] as string;
    expect((await call('GET', '/api/v1/runs', undefined, { cookie: cookieHeader }, '')).status).toBe(200);
    const noCsrf = await call('POST', '/api/v1/runs', { task: 'greet', input: { name: 'c' } }, { cookie: cookieHeader }, '');
    expect(noCsrf.status).toBe(403);
    const withCsrf = await call(
      'POST',
      '/api/v1/runs',
      { task: 'greet', input: { name: 'c' } },
      { cookie: cookieHeader, 'x-baton-csrf': csrf },
      '',
    );
    expect(withCsrf.status).toBe(201);
    expect((await call('POST', '/api/v1/session', { token: 'baton_nope' }, {}, '')).status).toBe(401);
    const page = await fetchApp(new Request('http://baton.test/runs/abc'));
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('the OpenAPI document lists every route with its request schemas', async () => {
    const doc = await json(await call('GET', '/api/v1/openapi.json'));
    expect(doc.openapi).toBe('3.1.0');
    const paths = doc.paths as Record<string, Record<string, { requestBody?: unknown }>>;
    expect(Object.keys(paths)).toContain('/runs/{id}/cancel');
    expect(paths['/runs']?.post?.requestBody).toBeDefined();
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid, result.valid ? '' : JSON.stringify(result.errors)).toBe(true);
  });
});

describe('HTTP router', () => {
  it('every route it has needs a token (a new route without auth fails here) and is in the OpenAPI document', async () => {
    const host = {
      namespace: 'default',
      tokens: { verify: async () => undefined },
      forNamespace: () => {
        throw new Error('an unauthenticated request reached a route');
      },
      logError: () => undefined,
    } as unknown as HttpHost;
    const app = createHttpApp(host);
    const routes = new Set<string>();
    for (const route of app.routes) {
      if (route.method === 'ALL' || !route.path.startsWith('/api/v1/')) continue;
      const alternatives = /\{([^}]+)\}$/.exec(route.path)?.[1]?.split('|') ?? [''];
      for (const alt of alternatives) {
        const path = route.path
          .replace(/:action\{[^}]+\}/, alt)
          .replace(/:id/g, '{id}')
          .slice('/api/v1'.length);
        routes.add(`${route.method} ${path}`);
      }
    }
    expect(routes.size).toBeGreaterThan(20);
    expect([...routes].sort()).toEqual([...new Set(documentedRoutes())].sort());
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const url = `http://x/api/v1${path.replace('{id}', '01a20000-0000-7000-8000-000000000000')}`;
      for (const authorization of [undefined, 'Bearer baton_wrong', 'Basic abc']) {
        const response = await app.fetch(
          new Request(url, {
            method,
            headers: authorization ? { authorization } : {},
            ...(method === 'GET' ? {} : { body: path === '/session' ? '{"token":"baton_wrong"}' : '{}' }),
          }),
        );
        const expected = path === '/session' ? (method === 'POST' ? 401 : 204) : 401;
        expect(response.status, `${route} with ${authorization ?? 'no token'}`).toBe(expected);
      }
    }
    expect((await app.fetch(new Request('http://x/metrics'))).status).toBe(401);
  });
});

describe('HTTP server', () => {
  it('accepts the token given in the settings (BATON_TOKEN) for every namespace', async () => {
    const fixture = await createFixture('sqlite');
    const before = process.env.BATON_TOKEN;
    process.env.BATON_TOKEN = 'configured-secret-token';
    try {
      const app = fixture.baton().http();
      const get = (token: string) =>
        app.fetch(new Request('http://x/api/v1/runs?namespace=any', { headers: { authorization: `Bearer ${token}` } }));
      expect((await get('configured-secret-token')).status).toBe(200);
      expect((await get('configured-secret-tokeN')).status).toBe(401);
    } finally {
      if (before === undefined) delete process.env.BATON_TOKEN;
      else process.env.BATON_TOKEN = before;
      await fixture.cleanup();
    }
  });

  it("mounts inside a user's Hono app under a prefix, behind the same token check", async () => {
    const fixture = await createFixture('sqlite');
    try {
      const baton = fixture.baton();
      const { token } = await baton.tokens.create();
      const batonApp = baton.http({ basePath: '/admin/baton' });
      const app = new Hono();
      app.get('/', (c) => c.text('my app'));
      app.all('/admin/baton/*', (c) => batonApp.fetch(c.req.raw));
      expect(await (await app.fetch(new Request('http://x/'))).text()).toBe('my app');
      expect((await app.fetch(new Request('http://x/admin/baton/api/v1/runs'))).status).toBe(401);
      const ok = await app.fetch(
        new Request('http://x/admin/baton/api/v1/runs', { headers: { authorization: `Bearer ${token}` } }),
      );
      expect(ok.status).toBe(200);
      const page = await app.fetch(new Request('http://x/admin/baton/'));
      expect(page.headers.get('content-type')).toContain('text/html');
    } finally {
      await fixture.cleanup();
    }
  });

  it('auth none refuses a non-loopback address; serve answers on loopback', async () => {
    const fixture = await createFixture('sqlite');
    try {
      const baton = fixture.baton();
      await expect(baton.serve({ auth: 'none', host: '0.0.0.0', port: 0 })).rejects.toThrow(/loopback/);
      const server = await baton.serve({ auth: 'none', host: '127.0.0.1', port: 0 });
      const response = await fetch(`${server.url}/api/v1/runs`);
      expect(response.status).toBe(200);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      await server.close();
    } finally {
      await fixture.cleanup();
    }
  });
});
