/**
 * The context travels over HTTP (DESIGN.md §2.3, §2.13): a task calls a service
 * with `contextHeaders()`; the service restores it with `continueRequestContext`
 * (Node `http` and Hono through a Fetch `Request`), logs on the calling run and
 * can pass it on; tampered, unknown-version and stale headers are refused with a
 * 4xx — on both stores.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import {
  type Baton,
  CONTEXT_HEADER,
  contextHeaders,
  continueContext,
  continueRequestContext,
  getRunContext,
  getTaskContext,
  InvalidStateError,
  serializeContext,
  ValidationError,
} from 'baton';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fieldsOf } from '../fixtures/travel-work.js';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred } from '../support/wait.js';

/** What the services answer: the context they saw, or the error that refused it. */
async function describeRequest(via: string) {
  const ctx = getTaskContext();
  if (!ctx) return { via, context: null };
  await ctx.log(`handled over http by ${via}`, undefined, { raiseOnError: true });
  return { via, context: fieldsOf(ctx), forwards: CONTEXT_HEADER in contextHeaders() };
}

function statusOf(error: unknown): number {
  if (error instanceof ValidationError) return 400;
  if (error instanceof InvalidStateError) return 409;
  return 500;
}

function nodeHandler(req: IncomingMessage, res: ServerResponse): void {
  continueRequestContext(req, () => describeRequest('node'))
    .then((body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)))
    .catch((error: Error) => res.writeHead(statusOf(error)).end(JSON.stringify({ name: error.name, message: error.message })));
}

const hono = new Hono();
hono.use((c, next) => continueRequestContext(c.req.raw, next));
hono.get('/', async (c) => c.json(await describeRequest('hono')));
hono.onError((error, c) => c.json({ name: error.name, message: error.message }, statusOf(error) as 400 | 409 | 500));

const servers: Server[] = [];
const urls = { node: '', hono: '' };

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

beforeAll(async () => {
  urls.node = await listen(createServer(nodeHandler));
  urls.hono = await listen(createServer(getRequestListener(hono.fetch)));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('contextHeaders and continueContext outside a task', () => {
  it('adds no header outside a task; a missing header runs with no context unless required', async () => {
    expect(contextHeaders()).toEqual({});
    expect(await continueContext(null, () => getTaskContext())).toBeUndefined();
    await expect(continueContext(undefined, () => 1, { required: true })).rejects.toThrow(/baton-context header is missing/);
    const response = await fetch(urls.node);
    expect(await response.json()).toEqual({ via: 'node', context: null });
  });
});

describeEachStore('the context travels over HTTP', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  it('a task calls a Node http and a Hono service: they see its context and their logs land on the run', async () => {
    const caller = baton.task({ name: 'caller' }, async (_: null, ctx) => {
      const call = async (url: string) => (await fetch(url, { headers: contextHeaders() })).json();
      return { here: fieldsOf(ctx), node: await call(urls.node), hono: await call(urls.hono) };
    });
    await baton.worker({ name: 'w', tasks: [caller] }).start();
    const handle = await caller.enqueue(null, { tags: { team: 'core' }, metadata: { order: 42 } });
    const { here, node, hono: viaHono } = await handle.result({ timeout: '30s' });
    // The service's context has no deadline: only the worker running the attempt enforces it.
    const expected = { ...here, deadline: undefined };
    expect(node).toEqual({ via: 'node', context: expected, forwards: true });
    expect(viaHono).toEqual({ via: 'hono', context: expected, forwards: true });
    expect(here.tags).toEqual({ team: 'core' });
    const logs = await handle.logs();
    expect(logs).toContainEqual(expect.objectContaining({ message: 'handled over http by node', attempt: 0 }));
    expect(logs.map((l) => l.message)).toContain('handled over http by hono');
  });

  it('refuses tampered, unknown-version and stale headers with a 4xx; the handler never runs', async () => {
    const serialized = deferred<string>();
    const release = deferred<void>();
    const holder = baton.task({ name: 'holder' }, async (_: null) => {
      serialized.resolve(serializeContext());
      await release.promise;
      return getRunContext().taskRunId;
    });
    await baton.worker({ name: 'w', tasks: [holder] }).start();
    const handle = await holder.enqueue(null);
    const text = await serialized.promise;
    const [, body, signature] = text.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = `bt1.${Buffer.from(JSON.stringify({ ...payload, runId: 'someone-else' })).toString('base64url')}.${signature}`;
    const ask = async (url: string, header: string) => {
      const response = await fetch(url, { headers: { [CONTEXT_HEADER]: header } });
      return { status: response.status, ...((await response.json()) as { name?: string; message?: string }) };
    };

    for (const url of [urls.node, urls.hono]) {
      expect(await ask(url, forged)).toMatchObject({ status: 400, name: 'ValidationError' });
      expect(await ask(url, `${text}x`)).toMatchObject({ status: 400, name: 'ValidationError' });
      expect(await ask(url, `bt9.${body}.${signature}`)).toMatchObject({
        status: 400,
        message: expect.stringContaining('format version 9'),
      });
    }
    await expect(continueContext(forged, () => 'ran')).rejects.toThrow(ValidationError);
    const duplicated = await fetch(urls.node, {
      headers: [
        [CONTEXT_HEADER, text],
        [CONTEXT_HEADER, text],
      ],
    });
    expect(duplicated.status).toBe(400);

    release.resolve();
    await handle.result({ timeout: '10s' });
    for (const url of [urls.node, urls.hono]) {
      expect(await ask(url, text)).toMatchObject({ status: 409, name: 'InvalidStateError' });
    }
    expect((await handle.logs()).filter((l) => l.message.startsWith('handled over http'))).toEqual([]);
  });
});
