/**
 * RELIABILITY.md #34 (unauthenticated and under-privileged access), #35 (tenant isolation) and
 * #36 (secrets never leak), in process, on both stores.
 *
 * #34 extends test/integration/http-api.test.ts ('HTTP router': every route of the router needs a
 * token; 'auth none refuses a non-loopback address'): on every documented route, malformed
 * Authorization headers (`Bearer`, `Bearer x y`, `Basic …`, a 10 KB token, non-ASCII, the stored
 * hash, the token id, a revoked token) are 401 with the structured body and reach no handler;
 * a read token is 403 on every mutating route and is let through on every GET (SSE included);
 * a token of another namespace is 403; /healthz answers without a token and says only "ok";
 * dashboard sessions die with their token and need the CSRF header and write scope for changes.
 * Tokens cannot expire (src/api/tokens.ts has no expiry): asking for one is a ValidationError,
 * so nobody believes they set one; revocation is the way to end a token.
 * #35: namespaces A and B with the same task, event and idempotency names: A's token gets 404
 * on B's run ids for get, logs, stream, live, cancel, retry, resume, replay and fork, and 403
 * when it names B; lists never show B's runs or events; A's event never wakes B's durable waiter
 * (its states do not change) while B's does; A's worker never claims B's runs; idempotency keys
 * are per namespace.
 * #36: what counts as a secret here (DESIGN.md §2.2 context keys, §2.12 tokens, §4 storage):
 * the database password, API token values, and values of context keys defined with
 * `redact: true`. Inputs are user data: they are shown to authorised readers (the run view has
 * the `password` and `authorization` fields given), but Baton never writes them to its process
 * log. Asserted over everything captured — every process-log line (the pino logger, debug level,
 * which is also the process logger) and console output, every GET answer for the run (API, SSE,
 * lists, metrics, dashboard HTML), and every row of every table read straight from the database:
 * the database password appears 0 times (also not in the StorageError of an unreachable
 * database), token values appear only in their creation result (and, by design, in the
 * HttpOnly session cookie of the login answer, which is the token), and redacted values never
 * appear in clear — not in log lines, and not in the stored failure of a task or step that
 * threw an error whose message contains one (test/integration/secrets.test.ts keeps that fix).
 */
import { inspect } from 'node:util';
import { Baton, type DurableContext, defineContextKey, type TaskContext, ValidationError, type Worker } from 'baton';
import { pino } from 'pino';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { hashToken } from '../../src/api/tokens.js';
import { documentedRoutes } from '../../src/http/openapi.js';
import { type BackendName, createFixture, describeEachStore, PG_URL, type StoreFixture } from '../support/stores.js';
import { deferred, waitForState } from '../support/wait.js';

type Fetch = (request: Request) => Promise<Response>;

/** Every row of every Baton table, as JSON text, read straight from the database. */
async function dumpTables(backend: BackendName, database: string, schema: string | undefined): Promise<string> {
  if (backend === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(database.replace(/^sqlite:/, ''), { readonly: true, fileMustExist: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      return tables
        .map(
          ({ name }) =>
            `${name}: ${JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all(), (_, v) => (Buffer.isBuffer(v) ? v.toString('latin1') : v))}`,
        )
        .join('\n');
    } finally {
      db.close();
    }
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const tables = await client.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [schema]);
    const out: string[] = [];
    for (const { table_name: name } of tables.rows as { table_name: string }[]) {
      const rows = await client.query(`SELECT row_to_json(t)::text AS j FROM "${schema}"."${name}" t`);
      out.push(`${name}: ${rows.rows.map((r: { j: string }) => r.j).join('\n')}`);
    }
    return out.join('\n');
  } finally {
    await client.end();
  }
}

function occurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

function caller(fetchApp: Fetch) {
  return (method: string, path: string, options: { token?: string; body?: string; headers?: Record<string, string> } = {}) =>
    fetchApp(
      new Request(`http://baton.test${path}`, {
        method,
        headers: {
          'content-type': 'application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(options.headers ?? {}),
        },
        ...(options.body === undefined ? {} : { body: options.body }),
      }),
    );
}

/** The status and body of an answer; SSE bodies of runs that have not ended are not waited for. */
async function settle(response: Response): Promise<{ status: number; text: string }> {
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    await response.body?.cancel();
    return { status: response.status, text: '' };
  }
  return { status: response.status, text: await response.text() };
}

describeEachStore('#34 #35 #36 authentication, isolation, secrets', (backend: BackendName) => {
  let fixture: StoreFixture;
  const workers: Worker[] = [];

  beforeEach(async () => {
    fixture = await createFixture(backend);
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await fixture.cleanup();
  });

  async function startWorker(baton: Baton, name: string, tasks: Parameters<Baton['worker']>[0]['tasks']): Promise<Worker> {
    const worker = baton.worker({ name, slots: 4, pollInterval: '20ms', shutdownTimeout: '1s', tasks });
    await worker.start();
    workers.push(worker);
    return worker;
  }

  it('#34 malformed, unknown and revoked tokens are 401 on every route; read tokens are 403 on every change; /healthz says only "ok"', async () => {
    const baton = fixture.baton();
    const plain = baton.task({ name: 'plain' }, async (_: unknown) => 'ok');
    await baton.register(plain);
    const run = await plain.enqueue({ marker: 'RUN-DATA-7f3e' });
    const call = caller(baton.http().fetch);
    const write = await baton.tokens.create({ name: 'writer' });
    const read = await baton.tokens.create({ scope: 'read' });
    const otherNamespace = await baton.tokens.create({ namespaces: ['elsewhere'] });
    const revoked = await baton.tokens.create();
    expect(await baton.tokens.revoke(revoked.id)).toBe(true);
    await expect(baton.tokens.create({ expiresIn: '1h' } as never)).rejects.toBeInstanceOf(ValidationError);

    const malformed = [
      'Bearer',
      'Bearer ',
      'Bearer x y',
      `Bearer ${write.token} ${write.token}`,
      `Bearer ${write.token},${write.token}`,
      'Basic dXNlcjpwYXNzd29yZA==',
      `Basic ${write.token}`,
      `Token ${write.token}`,
      write.token,
      `Bearer ${'t'.repeat(10 * 1024)}`,
      'Bearer tökén-ñ',
      `Bearer ${write.token.slice(0, -1)}`,
      `Bearer ${write.token}x`,
      `Bearer ${hashToken(write.token)}`,
      `Bearer ${write.id}`,
      `Bearer ${revoked.token}`,
      'Bearer baton_',
    ];
    const routes = documentedRoutes()
      .map((r) => r.split(' ') as [string, string])
      .filter(([, path]) => path !== '/session');
    expect(routes.length).toBeGreaterThan(20);
    const counts = async () =>
      JSON.stringify([
        (await baton.runs.list({ limit: 1000 })).items.length,
        (await baton.events.list()).items.length,
        (await baton.schedules.list()).length,
      ]);
    const before = await counts();
    const url = (path: string) => `/api/v1${path.replace('{id}', run.id)}`;
    const bodyFor = (method: string, path: string) =>
      method === 'GET' || method === 'DELETE'
        ? undefined
        : path === '/runs'
          ? '{"task":"plain"}'
          : path === '/events'
            ? '{"key":"k"}'
            : '{}';
    for (const [method, path] of [...routes, ['GET', '/metrics'] as [string, string]]) {
      const target = path === '/metrics' ? path : url(path);
      for (const authorization of [undefined, ...malformed]) {
        const response = await call(method, target, {
          body: bodyFor(method, path),
          headers: authorization ? { authorization } : {},
        });
        const what = `${method} ${path} with ${authorization?.slice(0, 30) ?? 'no token'}`;
        expect(response.status, what).toBe(401);
        const body = (await response.json()) as { error: { code: string; message: string } };
        expect(body.error.code, what).toBe('BATON_UNAUTHORIZED');
        expect(JSON.stringify(body), what).not.toContain('RUN-DATA');
      }
      // A token for another namespace is refused, whatever the route.
      if (path !== '/metrics') {
        const foreign = await call(method, target, { body: bodyFor(method, path), token: otherNamespace.token });
        expect(foreign.status, `${method} ${path} other namespace`).toBe(403);
      }
      const asReader = await settle(await call(method, target, { body: bodyFor(method, path), token: read.token }));
      if (method === 'GET') {
        expect([200, 404], `${method} ${path} read token`).toContain(asReader.status);
      } else {
        expect(asReader.status, `${method} ${path} read token`).toBe(403);
        expect(JSON.parse(asReader.text)).toMatchObject({ error: { code: 'BATON_FORBIDDEN' } });
      }
    }
    expect(await counts()).toBe(before);
    expect((await plain.enqueue(null)).id).toBeTruthy(); // the store itself still takes writes

    // /healthz: no token needed, no data given.
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${write.token}` }] as Record<
      string,
      string
    >[]) {
      const health = await call('GET', '/healthz', { headers });
      expect(health.status).toBe(200);
      expect(await health.text()).toBe('ok');
      expect(health.headers.get('set-cookie')).toBeNull();
      expect(health.headers.get('x-powered-by')).toBeNull();
    }
    // The dashboard shell is public and carries no data.
    for (const page of ['/', `/runs/${run.id}`]) {
      const html = await (await call('GET', page)).text();
      expect(html).not.toContain('RUN-DATA');
      expect(html).not.toContain(write.token);
    }
  });

  it('#34 dashboard sessions: a bad cookie is 401, changes need the CSRF header and write scope, and a revoked token ends its sessions', async () => {
    const baton = fixture.baton();
    const plain = baton.task({ name: 'plain' }, async () => 'ok');
    await baton.register(plain);
    const call = caller(baton.http().fetch);
    const write = await baton.tokens.create();
    const read = await baton.tokens.create({ scope: 'read' });
    const login = async (token: string) => {
      const response = await call('POST', '/api/v1/session', { body: JSON.stringify({ token }) });
      expect(response.status).toBe(200);
      const cookies = response.headers.getSetCookie();
      const csrf = (cookies.find((c) => c.startsWith('baton_csrf=')) ?? '').split(';')[0]?.split('=')[1] ?? '';
      return { cookie: cookies.map((c) => c.split(';')[0]).join('; '), csrf };
    };
    for (const token of ['', 'baton_nope', 'x'.repeat(1001), '\u0000']) {
      const response = await call('POST', '/api/v1/session', { body: JSON.stringify({ token }) });
      expect([401, 422], JSON.stringify(token.slice(0, 10))).toContain(response.status);
    }
    for (const cookie of ['baton_session=nope', `baton_session=${hashToken(write.token)}`, 'baton_session=', 'baton_csrf=x']) {
      expect((await call('GET', '/api/v1/runs', { headers: { cookie } })).status, cookie).toBe(401);
    }
    const writer = await login(write.token);
    const start = (headers: Record<string, string>) => call('POST', '/api/v1/runs', { body: '{"task":"plain"}', headers });
    expect((await call('GET', '/api/v1/runs', { headers: { cookie: writer.cookie } })).status).toBe(200);
    expect((await start({ cookie: writer.cookie })).status).toBe(403);
    expect((await start({ cookie: writer.cookie, 'x-baton-csrf': `${writer.csrf}x` })).status).toBe(403);
    expect((await start({ cookie: writer.cookie, 'x-baton-csrf': writer.csrf })).status).toBe(201);
    const reader = await login(read.token);
    expect((await call('GET', '/api/v1/runs', { headers: { cookie: reader.cookie } })).status).toBe(200);
    expect((await start({ cookie: reader.cookie, 'x-baton-csrf': reader.csrf })).status).toBe(403);
    const logout = await call('DELETE', '/api/v1/session', { headers: { cookie: writer.cookie } });
    expect(logout.status).toBe(204);
    expect(logout.headers.getSetCookie().join(';')).toMatch(/baton_session=;.*Max-Age=0/i);
    // Revoking the token ends every session made with it.
    await baton.tokens.revoke((await baton.tokens.list()).find((t) => t.scope === 'write')?.id as string);
    expect((await call('GET', '/api/v1/runs', { headers: { cookie: writer.cookie } })).status).toBe(401);
    expect((await start({ cookie: writer.cookie, 'x-baton-csrf': writer.csrf })).status).toBe(401);
  });

  it('#34 without auth the server binds only to loopback: 0.0.0.0 and :: are refused, the default host is 127.0.0.1', async () => {
    // The 0.0.0.0 case is also in test/integration/http-api.test.ts ('auth none refuses a non-loopback address').
    const baton = fixture.baton();
    for (const host of ['0.0.0.0', '::', '192.0.2.1']) {
      await expect(baton.serve({ auth: 'none', host, port: 0 }), host).rejects.toThrow(/loopback/);
    }
    const server = await baton.serve({ port: 0 });
    try {
      expect(new URL(server.url).hostname).toBe('127.0.0.1');
      expect((await fetch(`${server.url}/api/v1/runs`)).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it("#35 namespaces: A's token never sees or acts on B's runs, A's event never wakes B's waiter, A's worker never claims B's runs, keys are per namespace", async () => {
    const a = fixture.baton({ namespace: 'tenant-a' });
    const b = fixture.baton({ namespace: 'tenant-b' });
    const define = (baton: Baton) => ({
      charge: baton.task({ name: 'charge' }, async (input: { amount: number }, ctx: TaskContext) => ({
        ...input,
        by: ctx.worker.name,
      })),
      awaitPayment: baton.durableTask({ name: 'await-payment' }, async (_: null, ctx: DurableContext) => {
        const result = await ctx.waitFor('paid', { event: 'order:paid' });
        return result.event?.payload;
      }),
      probe: baton.durableTask(
        { name: 'probe' },
        async (_: null, ctx: DurableContext) => (await ctx.waitFor('go', { event: 'probe:go' })).index,
      ),
    });
    const A = define(a);
    const B = define(b);
    const workerA = await startWorker(a, 'worker-a', [A.charge, A.awaitPayment, A.probe]);
    await startWorker(b, 'worker-b', [B.awaitPayment, B.probe]);
    const tokenA = (await a.tokens.create({ namespaces: ['tenant-a'] })).token;
    const tokenB = (await b.tokens.create({ namespaces: ['tenant-b'] })).token;
    const callA = caller(a.http().fetch);
    const callB = caller(b.http().fetch);

    // Idempotency keys are per namespace: the same key gives each namespace its own run, no conflict.
    const bCharge = await B.charge.enqueue({ amount: 2 }, { idempotencyKey: 'order-1' });
    const aCharge = await A.charge.enqueue({ amount: 1 }, { idempotencyKey: 'order-1' });
    expect(aCharge.id).not.toBe(bCharge.id);
    const repeatA = await callA('POST', '/api/v1/runs', {
      token: tokenA,
      body: '{"task":"charge","input":{"amount":1}}',
      headers: { 'idempotency-key': 'order-1' },
    });
    expect(repeatA.status).toBe(200);
    expect(((await repeatA.json()) as { id: string }).id).toBe(aCharge.id);
    const repeatB = await callB('POST', '/api/v1/runs', {
      token: tokenB,
      body: '{"task":"charge","input":{"amount":2}}',
      headers: { 'idempotency-key': 'order-1' },
    });
    expect(((await repeatB.json()) as { id: string }).id).toBe(bCharge.id);
    expect(
      (
        await callB('POST', '/api/v1/runs', {
          token: tokenB,
          body: '{"task":"charge","input":{"amount":1}}',
          headers: { 'idempotency-key': 'order-1' },
        })
      ).status,
    ).toBe(409);

    // A's worker runs A's charge and, later, another one enqueued after B's: it polled past B's and left it.
    expect(await aCharge.result({ timeout: '10s' })).toEqual({ amount: 1, by: 'worker-a' });
    expect(await (await A.charge.enqueue({ amount: 3 })).result({ timeout: '10s' })).toEqual({ amount: 3, by: 'worker-a' });
    expect((await bCharge.state()).name).toBe('Pending');
    expect(await bCharge.attempts()).toEqual([]);

    // A's token on B's ids: 404 in its own namespace, 403 when it names B's.
    const probes: [string, string, string | undefined][] = [
      ['GET', '', undefined],
      ['GET', '/logs', undefined],
      ['GET', '/stream', undefined],
      ['GET', '/live', undefined],
      ['POST', '/cancel', '{}'],
      ['POST', '/retry', '{}'],
      ['POST', '/resume', '{}'],
      ['POST', '/replay', '{}'],
      ['POST', '/fork', '{"fromStep":"x"}'],
    ];
    for (const [method, suffix, body] of probes) {
      const own = await settle(
        await callA(method, `/api/v1/runs/${bCharge.id}${suffix}`, { token: tokenA, ...(body ? { body } : {}) }),
      );
      expect(own.status, `${method} ${suffix}`).toBe(404);
      expect(own.text).not.toContain('"amount":2');
      const named = await callA(method, `/api/v1/runs/${bCharge.id}${suffix}?namespace=tenant-b`, {
        token: tokenA,
        ...(body ? { body } : {}),
      });
      expect(named.status, `${method} ${suffix} ?namespace=tenant-b`).toBe(403);
      const viaB = await callB(method, `/api/v1/runs/${bCharge.id}${suffix}`, { token: tokenA, ...(body ? { body } : {}) });
      expect(viaB.status, `${method} ${suffix} on B's app`).toBe(403);
    }
    expect((await bCharge.state()).name).toBe('Pending'); // not cancelled, retried or replayed

    // Waiters: A's push of the shared event key wakes A's waiter, never B's.
    const aWait = await A.awaitPayment.enqueue(null);
    const bWait = await B.awaitPayment.enqueue(null);
    const bProbe = await B.probe.enqueue(null);
    for (const handle of [aWait, bWait, bProbe]) await waitForState(handle, 'Waiting', { timeout: 10_000 });
    const bStatesBefore = (await bWait.states()).length;
    const pushedA = await callA('POST', '/api/v1/events', { token: tokenA, body: '{"key":"order:paid","payload":{"from":"a"}}' });
    expect(pushedA.status).toBe(201);
    expect(await aWait.result({ timeout: '10s' })).toEqual({ from: 'a' });
    // B's worker has since woken and finished a run of its own: it had every chance to see A's event.
    await b.events.push('probe:go', {});
    expect(await bProbe.result({ timeout: '10s' })).toBe(0);
    expect((await bWait.state()).name).toBe('Waiting');
    expect((await bWait.states()).length).toBe(bStatesBefore);
    // Lists: A sees its own runs and events only.
    const listA = (await (await callA('GET', '/api/v1/runs?limit=1000', { token: tokenA })).json()) as {
      items: { id: string }[];
    };
    const idsA = listA.items.map((r) => r.id);
    for (const id of [bCharge.id, bWait.id, bProbe.id]) expect(idsA).not.toContain(id);
    expect(idsA).toContain(aCharge.id);
    const eventsA = (await (await callA('GET', '/api/v1/events', { token: tokenA })).json()) as { items: { key: string }[] };
    expect(eventsA.items.map((e) => e.key)).toEqual(['order:paid']);
    const workersA = (await (await callA('GET', '/api/v1/workers', { token: tokenA })).json()) as { items: { name: string }[] };
    expect(workersA.items.map((w) => w.name)).toEqual(['worker-a']);
    // B's own event wakes B's waiter.
    await b.events.push('order:paid', { from: 'b' });
    expect(await bWait.result({ timeout: '10s' })).toEqual({ from: 'b' });
    // A worker of B's namespace claims B's charge.
    const workerB2 = await startWorker(b, 'worker-b2', [B.charge]);
    expect(await bCharge.result({ timeout: '10s' })).toEqual({ amount: 2, by: 'worker-b2' });
    expect((await bCharge.attempts()).map((x) => x.workerId)).toEqual([workerB2.id]);
    expect((await aCharge.attempts()).map((x) => x.workerId)).toEqual([workerA.id]);
  });

  it('#36 the database password, token values and redacted context values appear nowhere: not in logs, API answers, stored rows or errors', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const consoleLines: string[] = [];
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void consoleLines.push(args.map(String).join(' '))),
    );
    const password = 's3cr3t-pw';
    let database: string;
    if (backend === 'postgres') {
      const url = new URL(PG_URL);
      if (url.password) throw new Error('BATON_TEST_PG_URL already has a password; this test adds its own (trust auth)');
      url.password = password;
      database = url.toString();
    } else {
      database = `sqlite:${fixture.options.database as string}`;
    }
    const baton = new Baton({ database, ...(fixture.options.schema ? { schema: fixture.options.schema } : {}), logger });
    let summary = '';
    try {
      const apiKey = defineContextKey<string>('api.key', { redact: true });
      const secret = 'ctx-secret-4f9a1e';
      const input = { password: 'input-pw-91c', authorization: 'Bearer input-auth-55d', note: 'visible' };
      const gate = deferred<void>();
      const leaky = baton.task({ name: 'leaky', retries: 1, retryDelay: 0 }, async (_: typeof input, ctx: TaskContext) => {
        await ctx.log(`calling the API with ${apiKey.get()}`, { key: apiKey.get(), header: `Bearer ${apiKey.get()}` });
        await ctx.putStream({ progress: 'half' });
        throw new Error(`upstream refused key ${apiKey.get()} (attempt ${ctx.attemptNumber})`);
      });
      const leakyStep = baton.durableTask({ name: 'leaky-step' }, async (_: null, ctx: DurableContext) => {
        await ctx.step('call', async () => {
          throw new Error(`step refused ${apiKey.get()}`, { cause: new Error(`cause with ${apiKey.get()}`) });
        });
      });
      const fine = baton.task({ name: 'fine' }, async (_: null) => {
        await gate.promise;
        return 'done';
      });
      const worker = await startWorker(baton, 'w', [leaky, leakyStep, fine]);
      const write = await baton.tokens.create();
      const read = await baton.tokens.create({ scope: 'read' });
      const handles = await apiKey.with(secret, async () => [
        await leaky.enqueue(input),
        await leakyStep.enqueue(null),
        await fine.enqueue(null),
      ]);
      const [run, stepRun, fineRun] = handles as [(typeof handles)[number], (typeof handles)[number], (typeof handles)[number]];
      for (const handle of [run, stepRun])
        expect((await waitForState(handle, ['Failed', 'Completed'], { timeout: 10_000 })).name).toBe('Failed');
      gate.resolve();
      expect(await fineRun.result({ timeout: '10s' })).toBe('done');
      expect((await run.state()).error?.message).toBe('upstream refused key [redacted] (attempt 2)');
      const stepError = (await (await baton.store()).loadSteps(stepRun.id)).find((s) => s.key === 'call#1')?.error;
      expect(stepError).toMatchObject({ message: 'step refused [redacted]', cause: { message: 'cause with [redacted]' } });
      expect(await run.contextValues()).toEqual({ 'api.key': '[redacted]' });

      // Every GET answer about the run, its neighbours and the server, with both tokens.
      const app = baton.http({ metrics: 'token' });
      const call = caller(app.fetch);
      const answers: string[] = [];
      const gets = [
        ...[run, stepRun, fineRun].flatMap((h) => [
          `/api/v1/runs/${h.id}`,
          `/api/v1/runs/${h.id}/logs`,
          `/api/v1/runs/${h.id}/stream`,
          `/api/v1/runs/${h.id}/live`,
        ]),
        '/api/v1/runs?limit=100',
        '/api/v1/runs?status=Failed',
        '/api/v1/events',
        '/api/v1/schedules',
        '/api/v1/workers',
        '/api/v1/tasks',
        '/api/v1/stats',
        '/api/v1/openapi.json',
        '/metrics',
        '/',
        `/runs/${run.id}`,
        '/healthz',
      ];
      for (const path of gets) {
        for (const token of [write.token, read.token]) {
          const response = await call('GET', path, { token });
          expect(response.status, path).toBe(200);
          answers.push(`${path} ${JSON.stringify([...response.headers])}\n${await response.text()}`);
        }
      }
      // The error answers too (no stack, no secrets).
      for (const [method, path, body] of [
        ['GET', '/api/v1/runs/nope', undefined],
        ['POST', '/api/v1/runs', '{"task":'],
        ['POST', `/api/v1/runs/${fineRun.id}/retry`, '{}'],
      ] as const) {
        const response = await call(method, path, { token: write.token, ...(body ? { body } : {}) });
        answers.push(`${path} ${response.status}\n${await response.text()}`);
      }
      const login = await call('POST', '/api/v1/session', { body: JSON.stringify({ token: write.token }) });
      expect(login.status).toBe(200);
      expect(await login.text()).not.toContain(write.token);
      // By design the session cookie is the token itself (HttpOnly, SameSite=Strict): the only other place it appears.
      expect(login.headers.getSetCookie().join('\n')).toContain(write.token);

      // An unreachable database: the StorageError names the host, never the password.
      if (backend === 'postgres') {
        const unreachable = new URL(database);
        unreachable.port = '1';
        const broken = new Baton({ database: unreachable.toString(), logger });
        try {
          const error = await broken.runs.list().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).name).toBe('StorageError');
          answers.push(
            `storage error: ${String(error)} ${(error as Error).stack ?? ''} ${inspect(error, { depth: 5 })} ${JSON.stringify(error)}`,
          );
        } finally {
          await broken.close();
        }
      }
      await worker.stop();
      workers.splice(workers.indexOf(worker), 1);
      const rows = await dumpTables(backend, database, fixture.options.schema);
      const logs = lines.join('');
      const consoleText = consoleLines.join('\n');
      const api = answers.join('\n');
      expect(logs.length).toBeGreaterThan(0);
      expect(occurrences(logs, 'worker started')).toBeGreaterThan(0); // the capture works

      const report: Record<string, Record<string, number>> = {};
      const secrets: Record<string, string> = {
        'database password': password,
        'write token': write.token,
        'read token': read.token,
        'redacted context value': secret,
      };
      for (const [what, value] of Object.entries(secrets)) {
        if (what === 'database password' && backend === 'sqlite') continue;
        report[what] = {
          logs: occurrences(logs, value),
          console: occurrences(consoleText, value),
          api: occurrences(api, value),
          rows: occurrences(rows, value),
        };
      }
      summary = JSON.stringify(report);
      for (const [what, where] of Object.entries(report)) expect(where, what).toEqual({ logs: 0, console: 0, api: 0, rows: 0 });
      // Tokens are stored as hashes only; redacted values are stored sealed.
      expect(occurrences(rows, hashToken(write.token))).toBe(1);
      expect(rows).toContain('[redacted]');
      // Inputs are user data: shown to authorised readers, never written to the process log.
      expect(api).toContain('input-pw-91c');
      expect(api).toContain('input-auth-55d');
      expect(occurrences(logs, 'input-pw-91c')).toBe(0);
      expect(occurrences(logs, 'input-auth-55d')).toBe(0);
    } finally {
      for (const spy of spies) spy.mockRestore();
      await baton.close();
    }
    console.info(`#36 [${backend}] occurrences of each secret (logs, console, API, rows): ${summary}`);
  });
});
