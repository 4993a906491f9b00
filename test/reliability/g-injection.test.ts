/**
 * RELIABILITY.md #33 (injection via names and keys), in process, on both stores.
 *
 * Hostile strings — `'; DROP TABLE runs; --`, `"`, `\`, `%`, `_`, NUL, 10 KB, right-to-left
 * overrides — as names, keys, filters and data. Asserted: task, workflow, worker, event and
 * namespace names and waitFor event keys outside the allowlist (letters, digits and `. _ : / -`,
 * 1–200 characters, starting with a letter or digit) are refused (ValidationError / TypeError in
 * code; 422 for a body and 400 for a `namespace` query over HTTP) and store nothing; idempotency
 * keys, tag values and list filters are data: a run is found by exactly its key or tag, and the
 * LIKE metacharacters `%` and `_` match only themselves (PostgreSQL, which cannot store U+0000,
 * answers a NUL with a 4xx ValidationError instead of an internal error); the schema is the
 * same before and after (information_schema.columns on PostgreSQL, sqlite_master on SQLite).
 * The dashboard's rendering of `<img src=x onerror=…>` as text is covered in a real browser by
 * test/e2e/dashboard.test.ts; here every HTTP answer (API, dashboard HTML, 404, 413, 500) is
 * checked to carry the Content-Security-Policy and nosniff headers.
 */
import { type Baton, type DurableContext, defineContextKey, ValidationError } from 'baton';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpApp } from '../../src/http/app.js';
import { documentedRoutes } from '../../src/http/openapi.js';
import type { HttpHost } from '../../src/http/scope.js';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitForState } from '../support/wait.js';

const SQL = "'; DROP TABLE runs; --";
const HOSTILE = [
  SQL,
  '"',
  '\\',
  '%',
  '_',
  'a%',
  'a_c',
  '\u0000',
  `nul\u0000inside`,
  'x'.repeat(10 * 1024),
  '\u202Eevil\u202C',
  'שלום',
  '💥',
];
/** Names within the allowlist that still carry SQL-ish characters. */
const ODD_BUT_VALID = ['a_c', 'abc', 'a.c', 'order:paid/v2', 'x-1_2.3:4/5'];

/** The schema as the database describes it: compared before and after the hostile input. */
async function schemaSnapshot(fixture: StoreFixture): Promise<string[]> {
  if (fixture.backend === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(fixture.options.database as string, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name').all();
      return rows.map((r) => JSON.stringify(r));
    } finally {
      db.close();
    }
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: fixture.options.database as string });
  await client.connect();
  try {
    const columns = await client.query(
      `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, column_name`,
      [fixture.options.schema],
    );
    const indexes = await client.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, [
      fixture.options.schema,
    ]);
    return [...columns.rows, ...indexes.rows].map((r) => JSON.stringify(r));
  } finally {
    await client.end();
  }
}

describeEachStore('#33 injection via names and keys', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;
  let call: (method: string, path: string, body?: unknown) => Promise<Response>;
  let schemaBefore: string[];

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
    await baton.store();
    schemaBefore = await schemaSnapshot(fixture);
    const app = baton.http();
    const { token } = await baton.tokens.create({ namespaces: ['*'] });
    call = (method, path, body) =>
      app.fetch(
        new Request(`http://baton.test${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
        }),
      );
  });

  afterEach(async () => {
    // Whatever the test did, the schema is what the migrations made.
    try {
      expect(await schemaSnapshot(fixture)).toEqual(schemaBefore);
    } finally {
      await fixture.cleanup();
    }
  });

  async function idsOf(response: Response): Promise<string[]> {
    expect(response.status).toBe(200);
    return ((await response.json()) as { items: { id: string }[] }).items.map((r) => r.id).sort();
  }

  it('#33 names outside the allowlist are refused in code (ValidationError / TypeError) and over HTTP (422 body, 400 namespace), storing nothing', async () => {
    const allowed = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/;
    const hostileNames = [...HOSTILE, '', '-leading-dash', 'x'.repeat(201), 'with space', 'tab\tname', 'a%c', '(x)'].filter(
      (n) => !allowed.test(n),
    );
    expect(hostileNames.length).toBeGreaterThan(15);
    const okTask = baton.task({ name: 'ok-task' }, async () => 1);
    for (const name of hostileNames) {
      const what = JSON.stringify(name.slice(0, 40));
      expect(() => baton.task({ name }, async () => 1), what).toThrow(ValidationError);
      expect(() => baton.durableTask({ name }, async () => 1), what).toThrow(ValidationError);
      expect(() => baton.workflow({ name }), what).toThrow(ValidationError);
      expect(() => baton.worker({ name, tasks: [okTask] }), what).toThrow(ValidationError);
      expect(() => fixture.baton({ namespace: name }), what).toThrow(ValidationError);
      await expect(baton.events.push(name, {}), what).rejects.toBeInstanceOf(ValidationError);
      // Context keys have their own, narrower rule (letters, digits, `_ . -`, up to 128).
      if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name)) expect(() => defineContextKey(name), what).toThrow(TypeError);
      for (const [path, body] of [
        ['/api/v1/runs', { task: name }],
        ['/api/v1/runs', { workflow: name }],
        ['/api/v1/events', { key: name }],
        ['/api/v1/schedules', { task: name, cron: '* * * * *' }],
      ] as const) {
        const response = await call('POST', path, body);
        expect(response.status, `${path} ${what}`).toBe(422);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('BATON_VALIDATION');
      }
      const response = await call('GET', `/api/v1/runs?namespace=${encodeURIComponent(name)}`);
      expect(response.status, `namespace ${what}`).toBe(400);
    }
    expect((await baton.runs.list()).items).toEqual([]);
    expect((await baton.events.list()).items).toEqual([]);
    expect(await baton.schedules.list()).toEqual([]);
  });

  it('#33 a waitFor event key outside the allowlist fails the run at once instead of waiting forever', async () => {
    const task = baton.durableTask({ name: 'bad-wait' }, async (key: string, ctx: DurableContext) =>
      ctx.waitFor('w', { event: key }),
    );
    const worker = baton.worker({ name: 'w', pollInterval: '20ms', shutdownTimeout: '1s', tasks: [task] });
    await worker.start();
    try {
      const handle = await task.enqueue(SQL);
      const state = await waitForState(handle, ['Failed', 'Waiting', 'Completed'], { timeout: 10_000 });
      expect(state.name).toBe('Failed');
      expect(state.error?.message).toContain('event must be 1-200 characters');
      const good = await task.enqueue('order:paid');
      expect((await waitForState(good, ['Failed', 'Waiting'], { timeout: 10_000 })).name).toBe('Waiting');
    } finally {
      await worker.stop();
    }
  });

  it('#33 idempotency keys are data: each hostile key finds exactly its own run, % and _ match only themselves', async () => {
    const plain = baton.task({ name: 'plain' }, async (_: string) => 'ok');
    const keys = [...HOSTILE.filter((k) => k.length <= 512), 'ab', 'abc', 'aXc', 'a%%'];
    const byKey = new Map<string, string>();
    for (const key of keys) {
      const what = JSON.stringify(key.slice(0, 30));
      if (key.includes('\u0000') && backend === 'postgres') {
        // PostgreSQL text cannot hold NUL: a clear ValidationError (422 over HTTP), nothing stored.
        await expect(plain.enqueue(key, { idempotencyKey: key }), what).rejects.toBeInstanceOf(ValidationError);
        const response = await call('POST', '/api/v1/runs', { task: 'plain', options: { idempotencyKey: key } });
        expect(response.status, what).toBe(422);
        continue;
      }
      const first = await call('POST', '/api/v1/runs', { task: 'plain', input: key, options: { idempotencyKey: key } });
      expect(first.status, what).toBe(201);
      const { id } = (await first.json()) as { id: string };
      expect([...byKey.values()], `${what} got another key's run`).not.toContain(id);
      byKey.set(key, id);
      const again = await plain.enqueue(key, { idempotencyKey: key });
      expect(again.id, what).toBe(id);
      const viaHttp = await call('POST', '/api/v1/runs', { task: 'plain', input: key, options: { idempotencyKey: key } });
      expect(viaHttp.status, what).toBe(200);
      expect(((await viaHttp.json()) as { id: string }).id, what).toBe(id);
    }
    // The input came back byte for byte.
    for (const [key, id] of byKey) {
      const run = (await (await call('GET', `/api/v1/runs/${id}`)).json()) as { input: unknown };
      expect(run.input).toBe(key);
    }
    expect((await baton.runs.list({ limit: 1000 })).items).toHaveLength(byKey.size);
    const tooLong = await call('POST', '/api/v1/runs', { task: 'plain', options: { idempotencyKey: 'k'.repeat(10 * 1024) } });
    expect(tooLong.status).toBe(422);
  });

  it('#33 tag, task and event-key filters are data: exact matches only, hostile values find their own rows', async () => {
    const tasks = ODD_BUT_VALID.map((name) => baton.task({ name }, async () => name));
    const tagged = new Map<string, string>();
    for (const value of HOSTILE) {
      const what = JSON.stringify(value.slice(0, 30));
      if (value.includes('\u0000') && backend === 'postgres') {
        const refused = await call('POST', '/api/v1/runs', { task: 'a_c', options: { tags: { q: value } } });
        expect(refused.status, what).toBe(422);
        const search = await call('GET', `/api/v1/runs?tag=${encodeURIComponent(`q:${value}`)}`);
        expect(search.status, what).toBe(422);
        continue;
      }
      const created = await call('POST', '/api/v1/runs', { task: 'a_c', options: { tags: { q: value, [value]: 'as-key' } } });
      expect(created.status, what).toBe(201);
      tagged.set(value, ((await created.json()) as { id: string }).id);
    }
    for (const [value, id] of tagged) {
      const what = JSON.stringify(value.slice(0, 30));
      expect(await idsOf(await call('GET', `/api/v1/runs?tag=${encodeURIComponent(`q:${value}`)}`)), what).toEqual([id]);
      if (!value.includes(':')) {
        expect(await idsOf(await call('GET', `/api/v1/runs?tag=${encodeURIComponent(`${value}:as-key`)}`)), what).toEqual([id]);
      }
    }
    // LIKE metacharacters and prefixes never widen a match.
    for (const value of ['a', 'ab', 'abc', 'aXc', '%%', '_c', 'a%c']) {
      expect(await idsOf(await call('GET', `/api/v1/runs?tag=${encodeURIComponent(`q:${value}`)}`)), value).toEqual([]);
    }
    const byTask = new Map<string, string>();
    for (const task of tasks) byTask.set(task.name, (await task.enqueue(undefined)).id);
    for (const name of ODD_BUT_VALID) {
      const expected = name === 'a_c' ? [...tagged.values(), byTask.get(name)].sort() : [byTask.get(name)];
      expect(await idsOf(await call('GET', `/api/v1/runs?task=${encodeURIComponent(name)}`)), name).toEqual(expected);
    }
    for (const filter of ['a%', 'a_', '%', '_', 'a%c', SQL, '"', '\\', '\u202Eevil']) {
      expect(await idsOf(await call('GET', `/api/v1/runs?task=${encodeURIComponent(filter)}`)), filter).toEqual([]);
    }
    const paid = await baton.events.push('order_paid', { n: 1 });
    const other = await baton.events.push('orderXpaid', { n: 2 });
    const events = async (key: string) => idsOf(await call('GET', `/api/v1/events?key=${encodeURIComponent(key)}`));
    expect(await events('order_paid')).toEqual([paid.id]);
    expect(await events('orderXpaid')).toEqual([other.id]);
    for (const key of ['order%', 'order_paid%', '%', SQL]) expect(await events(key), key).toEqual([]);
    // Run ids are data too.
    for (const id of [SQL, '%', `${[...tagged.values()][0]}%`, '..', '\\']) {
      const response = await call('GET', `/api/v1/runs/${encodeURIComponent(id)}`);
      expect(response.status, id).toBe(404);
    }
    // Still all there, nothing dropped.
    expect((await baton.runs.list({ limit: 1000 })).items).toHaveLength(tagged.size + tasks.length);
  });

  it('#33 hostile strings in inputs and metadata come back byte for byte (lone surrogates are refused with 422)', async () => {
    baton.task({ name: 'plain' }, async () => 'ok');
    const input = Object.fromEntries(HOSTILE.map((v, i) => [`k${i}`, v]));
    const metadata = { note: SQL, html: '<img src=x onerror=alert(1)>' };
    const created = await call('POST', '/api/v1/runs', { task: 'plain', input: { ...input, [SQL]: SQL }, options: { metadata } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const response = await call('GET', `/api/v1/runs/${id}`);
    // JSON, never HTML, and the browser may not sniff it into HTML.
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const run = (await response.json()) as { input: unknown; metadata: unknown };
    expect(run.input).toEqual({ ...input, [SQL]: SQL });
    expect(run.metadata).toEqual(metadata);
    // A `__proto__` key is the user's data too: stored and shown as an own key, polluting nothing.
    const proto = await call('POST', '/api/v1/runs', '{"task":"plain","input":{"__proto__":{"polluted":"yes"},"a":1}}');
    expect(proto.status).toBe(201);
    const protoId = ((await proto.json()) as { id: string }).id;
    const protoView = await (await call('GET', `/api/v1/runs/${protoId}`)).text();
    expect(protoView).toContain('"input":{"__proto__":{"polluted":"yes"},"a":1}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const surrogate = await call('POST', '/api/v1/runs', '{"task":"plain","input":"broken \\ud800 half"}');
    expect(surrogate.status).toBe(422);
    expect(((await surrogate.json()) as { error: { code: string } }).error.code).toBe('BATON_SERIALIZATION');
  });
});

describe('#33 security headers', () => {
  it('#33 every HTTP answer — API, dashboard HTML, 401/404/413/422, SSE and an internal error — carries the CSP and nosniff headers', async () => {
    const fixture = await createFixture('sqlite');
    try {
      const baton = fixture.baton();
      const task = baton.task({ name: 'plain' }, async () => 'ok');
      const run = await task.enqueue(undefined);
      const { token } = await baton.tokens.create();
      const app = baton.http({ maxBodyBytes: 1024 });
      const requests: [string, string, string | undefined, boolean][] = [];
      for (const route of documentedRoutes()) {
        const [method, path] = route.split(' ') as [string, string];
        const url = path.replace('{id}', run.id);
        const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
        requests.push([method, `/api/v1${url}`, body, true], [method, `/api/v1${url}`, body, false]);
      }
      requests.push(
        ['GET', '/', undefined, false],
        ['GET', `/runs/${run.id}`, undefined, false],
        ['GET', '/assets/missing.js', undefined, false],
        ['GET', '/%zz', undefined, false],
        ['GET', '/healthz', undefined, false],
        ['GET', '/metrics', undefined, true],
        ['GET', '/metrics', undefined, false],
        ['GET', '/api/v1/nope', undefined, true],
        ['GET', '/api/v1/runs?limit=0', undefined, true],
        ['POST', '/api/v1/runs', 'x'.repeat(2048), true],
        ['POST', '/api/v1/runs', '{"task":', true],
        ['POST', '/api/v1/runs', '{"task":"plain","bogus":1}', true],
        ['HEAD', `/api/v1/runs/${run.id}/live`, undefined, true],
        ['OPTIONS', '/api/v1/runs', undefined, true],
      );
      const statuses = new Set<number>();
      for (const [method, path, body, withToken] of requests) {
        const response = await app.fetch(
          new Request(`http://baton.test${path}`, {
            method,
            headers: withToken ? { authorization: `Bearer ${token}` } : {},
            ...(body === undefined ? {} : { body }),
          }),
        );
        await response.body?.cancel();
        statuses.add(response.status);
        const what = `${method} ${path} ${withToken ? 'with' : 'without'} token → ${response.status}`;
        const csp = response.headers.get('content-security-policy') ?? '';
        expect(csp, what).toContain("default-src 'self'");
        expect(csp, what).toContain("script-src 'self'");
        expect(csp, what).toContain("frame-ancestors 'none'");
        expect(response.headers.get('x-content-type-options'), what).toBe('nosniff');
      }
      for (const status of [200, 401, 404, 413, 400, 422]) expect(statuses, String(status)).toContain(status);
      // An unexpected error inside a route is a 500 with the same headers.
      const failing = createHttpApp({
        namespace: 'default',
        tokens: {
          verify: async () => {
            throw new Error('store exploded');
          },
        },
        forNamespace: () => {
          throw new Error('unreachable');
        },
        logError: () => undefined,
      } as unknown as HttpHost);
      const crashed = await failing.fetch(new Request('http://x/api/v1/runs', { headers: { authorization: 'Bearer t' } }));
      expect(crashed.status).toBe(500);
      expect(crashed.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await crashed.text()).not.toContain('store exploded');
    } finally {
      await fixture.cleanup();
    }
  });
});
