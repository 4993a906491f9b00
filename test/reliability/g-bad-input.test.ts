/**
 * RELIABILITY.md #30 (non-serializable values) and #31 (oversized payloads), in process, on
 * both stores.
 *
 * #30: what the serializer supports (BigInt, Date, Map, Set, Uint8Array, NaN, -0, `undefined`
 * inside objects and arrays) comes back exactly from a step record after a replay; what it
 * refuses (a cycle, a function, a symbol, a lone UTF-16 surrogate, a WeakMap) fails the run at
 * once with a terminal SerializationError whose message names the path — one attempt and one
 * execution of the step even with `retries: 3` on the task and `retries: 2` on the step — and
 * the run is left consistent (one terminal state, the step's error recorded, readable over HTTP).
 * #31: a request body of limit + 1 bytes is a 413 (with and without Content-Length), a 50 MB
 * chunked body sent through a real `baton.serve()` socket is answered 413 long before it is
 * all sent while the server's RSS rises < 20 MB; input, step output and event payloads of
 * limit + 1 bytes are refused (413 / terminal PayloadTooLargeError) while exactly the limit
 * passes; 10,000-deep nested JSON of ~500 KB is a clear 4xx, not a stack overflow; and no row
 * is written for anything refused (table counts before/after).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import {
  type Baton,
  type DurableContext,
  PayloadTooLargeError,
  RunFailedError,
  SerializationError,
  type Task,
  type Worker,
} from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor, waitForState } from '../support/wait.js';

const COUNTED_TABLES = ['runs', 'run_states', 'attempts', 'events', 'schedules', 'idempotency_keys', 'steps'] as const;

/** Row counts of Baton's main tables, read straight from the database. */
async function tableCounter(
  fixture: StoreFixture,
): Promise<{ counts(): Promise<Record<string, number>>; close(): Promise<void> }> {
  const select = `SELECT ${COUNTED_TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(', ')}`;
  if (fixture.backend === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(fixture.options.database as string, { readonly: true, fileMustExist: true });
    const statement = db.prepare(select);
    return {
      counts: async () => ({ ...(statement.get() as Record<string, number>) }),
      close: async () => void db.close(),
    };
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: fixture.options.database as string });
  await client.connect();
  await client.query(`SET search_path TO "${fixture.options.schema as string}"`);
  return {
    counts: async () => {
      const row = (await client.query(select)).rows[0] as Record<string, string>;
      return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
    },
    close: () => client.end(),
  };
}

interface ServerProcess {
  url: string;
  token: string;
  /** Starts measuring the server's resident memory; `riseMb()` is the peak rise since. */
  memory(): { riseMb(): number; how: string };
  stop(): Promise<void>;
}

/** `baton.serve()` in a child process on the fixture's database, so its RSS is the server's alone. */
async function startServerProcess(fixture: StoreFixture): Promise<ServerProcess> {
  const code = `
    import { Baton } from 'baton';
    const baton = new Baton({ logLevel: 'silent' });
    baton.task({ name: 'greet' }, async () => 'hi');
    const { token } = await baton.tokens.create();
    const server = await baton.serve({ host: '127.0.0.1', port: 0 });
    process.stdout.write(JSON.stringify({ url: server.url, token }) + '\\n');
    process.on('SIGTERM', () => void server.close().then(() => baton.close()).then(() => process.exit(0)));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=baton-source', '--input-type=module', '-e', code], {
    cwd: process.cwd(),
    env: { ...process.env, ...fixture.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = await new Promise<{ url: string; token: string }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server process did not start in 30 s: ${stderr}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { url: string; token: string });
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`server process exited: ${stderr}`));
    });
  });
  const status = (field: string) => {
    const text = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? Number.NaN) * 1024;
  };
  return {
    ...first,
    memory() {
      // Reset the kernel's peak-RSS mark (VmHWM) so it records the peak from here on;
      // where that is not allowed, sample VmRSS instead.
      let how = 'VmHWM';
      try {
        writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
      } catch {
        how = 'VmRSS sampled every 2 ms';
      }
      const baseline = status('VmRSS');
      let sampled = baseline;
      const sampler = setInterval(() => {
        sampled = Math.max(sampled, status('VmRSS'));
      }, 2);
      return {
        how,
        riseMb() {
          clearInterval(sampler);
          const peak = Math.max(sampled, status('VmRSS'), how === 'VmHWM' ? status('VmHWM') : 0);
          return (peak - baseline) / 1024 / 1024;
        },
      };
    },
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** POSTs `head` then `total` bytes of 'x' as a chunked body, respecting backpressure, until the server answers. */
function sendChunked(
  url: URL,
  headers: Record<string, string>,
  head: string,
  total: number,
): Promise<{ status: number; body: string; sent: number }> {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.on('response', (res) => {
      answered = true;
      const sentAtAnswer = sent;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body, sent: sentAtAnswer });
      });
    });
    const pump = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    req.write(head);
    pump();
  });
}

describeEachStore('#30 #31 bad and oversized input', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;
  let counter: Awaited<ReturnType<typeof tableCounter>> | undefined;
  const workers: Worker[] = [];

  beforeEach(async () => {
    fixture = await createFixture(backend);
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await counter?.close();
    counter = undefined;
    await fixture.cleanup();
  });

  /** A Baton on the fixture, its store opened (so the tables exist) and a counter on them. */
  async function open(options: Parameters<StoreFixture['baton']>[0] = {}): Promise<Baton> {
    baton = fixture.baton(options);
    await baton.store();
    counter = await tableCounter(fixture);
    return baton;
  }

  async function startWorker(tasks: Parameters<Baton['worker']>[0]['tasks']): Promise<Worker> {
    const worker = baton.worker({ name: 'w', slots: 8, pollInterval: '20ms', shutdownTimeout: '1s', tasks });
    await worker.start();
    workers.push(worker);
    return worker;
  }

  async function tokenFetch(options: Parameters<Baton['http']>[0] = {}) {
    const app = baton.http(options);
    const { token } = await baton.tokens.create();
    return (path: string, init: RequestInit & { duplex?: 'half' } = {}) =>
      app.fetch(
        new Request(`http://baton.test${path}`, {
          ...init,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
        }),
      );
  }

  /** The error body of a 4xx answer: structured, and without a stack trace. */
  async function errorOf(response: Response): Promise<{ code: string; message: string }> {
    const text = await response.text();
    expect(text).not.toMatch(/\n\s+at /);
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    expect(typeof body.error.code).toBe('string');
    expect(typeof body.error.message).toBe('string');
    return body.error;
  }

  it('#30 values the serializer supports (BigInt, Date, Map, Set, Uint8Array, NaN, -0, nested undefined) come back exactly from step records after a replay', async () => {
    await open();
    const executions = new Map<string, number>();
    const count =
      <T>(name: string, value: T) =>
      () => {
        executions.set(name, (executions.get(name) ?? 0) + 1);
        return value;
      };
    const rich = baton.durableTask({ name: 'rich-values' }, async (_: null, ctx: DurableContext) => {
      const big = await ctx.step('bigint', count('bigint', 2n ** 70n + 1n));
      const date = await ctx.step('date', count('date', new Date('2030-01-02T03:04:05.678Z')));
      const map = await ctx.step(
        'map',
        count(
          'map',
          new Map<unknown, unknown>([
            ['k', -5n],
            [2, new Set(['x', 1])],
          ]),
        ),
      );
      const bytes = await ctx.step('bytes', count('bytes', new Uint8Array([0, 255, 7])));
      const odd = await ctx.step('odd', count('odd', { a: undefined, list: [1, undefined, 3], nan: Number.NaN, negZero: -0 }));
      const none = await ctx.step('none', count('none', undefined));
      // A durable sleep drops the run from memory: the code runs again from the top and
      // every step above returns its record from the store.
      await ctx.sleepFor('20ms');
      return { big, date, map, bytes, odd, none, isUndefined: none === undefined };
    });
    await startWorker([rich]);
    const handle = await rich.enqueue(null);
    const output = await handle.result({ timeout: '15s' });
    expect(output).toStrictEqual({
      big: 2n ** 70n + 1n,
      date: new Date('2030-01-02T03:04:05.678Z'),
      map: new Map<unknown, unknown>([
        ['k', -5n],
        [2, new Set(['x', 1])],
      ]),
      bytes: new Uint8Array([0, 255, 7]),
      odd: { a: undefined, list: [1, undefined, 3], nan: Number.NaN, negZero: -0 },
      none: undefined,
      isUndefined: true,
    });
    expect(Object.is(output.odd.negZero, -0)).toBe(true);
    expect('a' in output.odd).toBe(true);
    // Each step ran once; the second execution (after the sleep) replayed them from the store.
    expect([...executions.values()]).toEqual([1, 1, 1, 1, 1, 1]);
    expect((await handle.states()).filter((s) => s.name === 'Running').length).toBeGreaterThanOrEqual(2);
  });

  it('#30 a cycle, a function, a symbol, a lone surrogate or a WeakMap from a step or a task fails the run once with a terminal SerializationError naming the path', async () => {
    await open();
    const fetchApi = await tokenFetch();
    const poison: Record<string, { make: () => unknown; path: string }> = {
      cycle: {
        make: () => {
          const node: Record<string, unknown> = { name: 'loop' };
          node.self = node;
          return node;
        },
        path: '.self',
      },
      function: { make: () => ({ callback: () => 'SOURCE-OF-THE-FUNCTION' }), path: '.callback' },
      symbol: { make: () => ({ tag: Symbol('s') }), path: '.tag' },
      surrogate: { make: () => ({ text: `broken \uD800 half` }), path: '.text' },
      weakmap: { make: () => ({ cache: new WeakMap() }), path: '.cache' },
    };
    const executions = new Map<string, number>();
    const bump = (key: string) => executions.set(key, (executions.get(key) ?? 0) + 1);
    const inStep = baton.durableTask(
      { name: 'poison-step', retries: 3, retryDelay: 0 },
      async (kind: string, ctx: DurableContext) => {
        await ctx.step(
          'make',
          () => {
            bump(`step:${kind}`);
            return poison[kind]?.make();
          },
          { retries: 2 },
        );
        return 'unreachable';
      },
    );
    const asOutput = baton.task({ name: 'poison-output', retries: 3, retryDelay: 0 }, async (kind: string) => {
      bump(`task:${kind}`);
      return poison[kind]?.make();
    });
    await startWorker([inStep, asOutput]);
    for (const [kind, { path }] of Object.entries(poison)) {
      for (const task of [inStep, asOutput] as Task<string, unknown>[]) {
        const what = `${task.name}/${kind}`;
        const handle = await task.enqueue(kind);
        const state = await waitForState(handle, ['Failed', 'Completed'], { timeout: 10_000 });
        expect(state.name, what).toBe('Failed');
        expect(state.error?.name, what).toBe('SerializationError');
        expect(state.error?.code, what).toBe('BATON_SERIALIZATION');
        expect(state.error?.message, what).toContain(path);
        expect(state.error?.message, what).toContain('cannot be stored');
        // Terminal: no retry of the attempt nor of the step.
        expect(await handle.attempts(), what).toHaveLength(1);
        expect(executions.get(`${task === inStep ? 'step' : 'task'}:${kind}`), what).toBe(1);
        const rejection = await handle.result().catch((e: unknown) => e);
        expect(rejection, what).toBeInstanceOf(RunFailedError);
        // Consistent: exactly one terminal state, and the HTTP view agrees.
        expect(
          (await handle.states()).map((s) => s.name),
          what,
        ).toEqual(['Pending', 'Running', 'Failed']);
        const response = await fetchApi(`/api/v1/runs/${handle.id}`);
        expect(response.status, what).toBe(200);
        const view = (await response.json()) as {
          state: { name: string };
          error: { name: string; message: string; data?: unknown };
          steps: { name: string; error?: { name: string } }[];
        };
        expect(view.state.name).toBe('Failed');
        expect(view.error).toMatchObject({ name: 'SerializationError', code: 'BATON_SERIALIZATION' });
        // Sanitized: plain data only, never the refused value (nor a function's source).
        expect(view.error.data).toBeUndefined();
        expect(JSON.stringify(view)).not.toContain('SOURCE-OF-THE-FUNCTION');
        if (task === inStep) expect(view.steps).toMatchObject([{ name: 'make#1', error: { name: 'SerializationError' } }]);
      }
    }
    const failed = await baton.runs.list({ status: 'Failed', limit: 100 });
    expect(failed.items).toHaveLength(Object.keys(poison).length * 2);
  });

  it('#31 a body of limit + 1 bytes is a 413 with or without Content-Length; exactly the limit is accepted; nothing is stored for a 413', async () => {
    await open();
    baton.task({ name: 'greet' }, async () => 'hi');
    const limit = 64 * 1024;
    const fetchApi = await tokenFetch({ maxBodyBytes: limit });
    const head = '{"task":"greet","input":{"pad":"';
    const tail = '"}}';
    const exact = head + 'x'.repeat(limit - head.length - tail.length) + tail;
    expect(Buffer.byteLength(exact)).toBe(limit);
    const over = `${exact} `; // JSON allows trailing whitespace: limit + 1 bytes of valid JSON.
    const before = await counter?.counts();
    const withLength = await fetchApi('/api/v1/runs', {
      method: 'POST',
      body: over,
      headers: { 'content-length': String(limit + 1) },
    });
    expect(withLength.status).toBe(413);
    expect((await errorOf(withLength)).code).toBe('BATON_PAYLOAD_TOO_LARGE');
    const encoder = new TextEncoder();
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < over.length; i += 4096) controller.enqueue(encoder.encode(over.slice(i, i + 4096)));
        controller.close();
      },
    });
    const withoutLength = await fetchApi('/api/v1/runs', { method: 'POST', body: chunked, duplex: 'half' });
    expect(withoutLength.status).toBe(413);
    expect((await errorOf(withoutLength)).code).toBe('BATON_PAYLOAD_TOO_LARGE');
    // In process nothing checks a Content-Length against the body: one that understates it is not believed.
    const lying = await fetchApi('/api/v1/runs', { method: 'POST', body: over, headers: { 'content-length': '10' } });
    expect(lying.status).toBe(413);
    expect(await counter?.counts()).toEqual(before);
    const accepted = await fetchApi('/api/v1/runs', { method: 'POST', body: exact });
    expect(accepted.status).toBe(201);
    expect((await counter?.counts())?.runs).toBe((before?.runs ?? 0) + 1);
  });

  it('#31 a 50 MB chunked body to a real server process is a 413 long before it is all sent; the server RSS rises < 20 MB', async () => {
    await open();
    const server = await startServerProcess(fixture);
    try {
      const url = new URL('/api/v1/runs', server.url);
      const headers = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
      const before = await counter?.counts();
      // Warm the path up (modules, buffers) so the measure is of the big body alone.
      for (const body of ['{"task":"nope"}', `{"task":"nope","input":"${'w'.repeat(256 * 1024)}"}`]) {
        const warm = await fetch(url, { method: 'POST', headers, body });
        expect(warm.status).toBe(404);
      }
      const memory = server.memory();
      const total = 50 * 1024 * 1024;
      const started = performance.now();
      const result = await sendChunked(url, headers, '{"task":"greet","input":"', total);
      const riseMb = memory.riseMb();
      console.log(
        `#31 [${backend}] 50 MB chunked body: ${result.status} after ${(result.sent / 1024 / 1024).toFixed(1)} MB sent, ` +
          `${Math.round(performance.now() - started)} ms; server RSS rise ${riseMb.toFixed(1)} MB (${memory.how})`,
      );
      expect(result.status).toBe(413);
      expect(JSON.parse(result.body)).toMatchObject({ error: { code: 'BATON_PAYLOAD_TOO_LARGE' } });
      // Answered before the whole body was sent (the default limit is 5 MiB; sockets buffer a few MB).
      expect(result.sent).toBeLessThan(total / 2);
      expect(riseMb).toBeLessThan(20);
      expect(await counter?.counts()).toEqual(before);
    } finally {
      await server.stop();
    }
  });

  it('#31 an input of limit + 1 bytes is a 413 over HTTP and a PayloadTooLargeError in code; exactly the limit is accepted', async () => {
    await open({ limits: { input: 1024 } });
    const task = baton.task({ name: 'echo' }, async (s: string) => s.length);
    const fetchApi = await tokenFetch();
    const before = await counter?.counts();
    // A string of n characters serializes to n + 2 bytes (its quotes).
    const response = await fetchApi('/api/v1/runs', {
      method: 'POST',
      body: JSON.stringify({ task: 'echo', input: 'x'.repeat(1023) }),
    });
    expect(response.status).toBe(413);
    expect(await errorOf(response)).toMatchObject({ code: 'BATON_PAYLOAD_TOO_LARGE' });
    const thrown = await task.enqueue('y'.repeat(1023)).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(PayloadTooLargeError);
    expect(thrown).toMatchObject({ size: 1025, limit: 1024 });
    expect(await counter?.counts()).toEqual(before);
    const ok = await fetchApi('/api/v1/runs', {
      method: 'POST',
      body: JSON.stringify({ task: 'echo', input: 'x'.repeat(1022) }),
    });
    expect(ok.status).toBe(201);
  });

  it('#31 a step or task output of limit + 1 bytes fails the run once with a terminal PayloadTooLargeError; exactly the limit is stored', async () => {
    await open({ limits: { output: 1024 } });
    const executions = new Map<string, number>();
    const stepOutput = baton.durableTask(
      { name: 'big-step', retries: 3, retryDelay: 0 },
      async (chars: number, ctx: DurableContext) => {
        const value = await ctx.step(
          'make',
          () => {
            executions.set(`step:${chars}`, (executions.get(`step:${chars}`) ?? 0) + 1);
            return 'x'.repeat(chars);
          },
          { retries: 2 },
        );
        return value.length;
      },
    );
    const taskOutput = baton.task({ name: 'big-output', retries: 3, retryDelay: 0 }, async (chars: number) => {
      executions.set(`task:${chars}`, (executions.get(`task:${chars}`) ?? 0) + 1);
      return 'x'.repeat(chars);
    });
    await startWorker([stepOutput, taskOutput]);
    for (const task of [stepOutput, taskOutput] as Task<number, unknown>[]) {
      const over = await task.enqueue(1023);
      const state = await waitForState(over, ['Failed', 'Completed'], { timeout: 10_000 });
      expect(state.name, task.name).toBe('Failed');
      expect(state.error, task.name).toMatchObject({ name: 'PayloadTooLargeError', code: 'BATON_PAYLOAD_TOO_LARGE' });
      expect(state.error?.message, task.name).toContain('1025 bytes, over the limit of 1024 bytes');
      expect(await over.attempts(), task.name).toHaveLength(1);
      expect(executions.get(`${task === stepOutput ? 'step' : 'task'}:1023`), task.name).toBe(1);
      const exact = await task.enqueue(1022);
      expect(await exact.result({ timeout: '10s' }), task.name).toEqual(task === stepOutput ? 1022 : 'x'.repeat(1022));
    }
  });

  it('#31 an event payload of limit + 1 bytes is refused (413, PayloadTooLargeError) and stores no event; exactly the limit is stored', async () => {
    await open({ limits: { event: 1024 } });
    const fetchApi = await tokenFetch();
    const before = await counter?.counts();
    const response = await fetchApi('/api/v1/events', {
      method: 'POST',
      body: JSON.stringify({ key: 'order:paid', payload: 'x'.repeat(1023) }),
    });
    expect(response.status).toBe(413);
    expect(await errorOf(response)).toMatchObject({ code: 'BATON_PAYLOAD_TOO_LARGE' });
    await expect(baton.events.push('order:paid', 'y'.repeat(1023))).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await counter?.counts()).toEqual(before);
    const ok = await fetchApi('/api/v1/events', {
      method: 'POST',
      body: JSON.stringify({ key: 'order:paid', payload: 'x'.repeat(1022) }),
    });
    expect(ok.status).toBe(201);
    expect((await counter?.counts())?.events).toBe((before?.events ?? 0) + 1);
  });

  it('#31 10,000-deep nested JSON of ~500 KB is a clear 4xx (no stack overflow, no 500) and stores nothing', async () => {
    await open();
    const task = baton.task({ name: 'greet' }, async () => 'hi');
    const fetchApi = await tokenFetch();
    const depth = 10_000;
    const pad = JSON.stringify('p'.repeat(500_000 - depth * 6));
    const deepObject = `${'{"a":'.repeat(depth)}${pad}${'}'.repeat(depth)}`;
    const deepArray = `${'['.repeat(depth)}${pad}${']'.repeat(depth)}`;
    expect(deepObject.length).toBeGreaterThan(499_000);
    const before = await counter?.counts();
    const bodies: [string, string][] = [
      ['/api/v1/runs', `{"task":"greet","input":${deepObject}}`],
      ['/api/v1/runs', `{"task":"greet","input":${deepArray}}`],
      ['/api/v1/runs', `{"task":"greet","options":{"metadata":{"deep":${deepObject}}}}`],
      ['/api/v1/events', `{"key":"deep","payload":${deepArray}}`],
      ['/api/v1/events', `{"key":"deep","metadata":{"deep":${deepArray}}}`],
    ];
    for (const [path, body] of bodies) {
      const response = await fetchApi(path, { method: 'POST', body });
      const what = `${path} ${body.slice(0, 60)}`;
      expect(response.status, what).toBeGreaterThanOrEqual(400);
      expect(response.status, what).toBeLessThan(500);
      const error = await errorOf(response);
      expect(error.message, what).not.toMatch(/call stack/i);
    }
    const inCode = await task.enqueue(JSON.parse(deepObject) as never).catch((e: unknown) => e);
    expect(inCode).toBeInstanceOf(SerializationError);
    expect((inCode as Error).message).toMatch(/nested deeper than/);
    expect(await counter?.counts()).toEqual(before);
    // The server is still answering.
    await waitFor(async () => (await fetchApi('/api/v1/runs')).status === 200, { timeout: 2_000 });
  });
});
