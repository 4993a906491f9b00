/**
 * The web-framework adapters (issue 9): a request handled in Express, Fastify or Hono
 * enqueues runs that carry the request's tags (the `baton-tags` header and the
 * `tags(req)` option), continue a calling task's context (`baton-context`: the run is
 * its child) and its trace (`traceparent`); refused headers answer 400; the API and
 * dashboard mount under a path — on both stores.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type Baton, contextHeaders, getRunContext, type Task } from 'baton';
import { batonHttp as expressHttp, batonMiddleware as expressMiddleware } from 'baton/express';
import { batonPlugin, batonHttp as fastifyHttp } from 'baton/fastify';
import { batonMiddleware as honoMiddleware } from 'baton/hono';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});

afterAll(async () => {
  trace.disable();
  context.disable();
  propagation.disable();
  await provider.shutdown();
});

interface Recorded {
  tags: Record<string, string>;
  parent: string | undefined;
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

describeEachStore('web frameworks', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;
  let record: Task<{ order: string }, Recorded>;
  let caller: Task<{ via: string }, string>;
  /** How `caller` reaches the app under test: it posts an order with its context headers. */
  let callApp: (headers: Record<string, string>) => Promise<{ id: string }>;

  beforeEach(async () => {
    exporter.reset();
    fixture = await createFixture(backend);
    baton = fixture.baton();
    record = baton.task({ name: 'record' }, async (_input: { order: string }, ctx) => ({
      tags: ctx.tags,
      parent: ctx.parentWorkflowRunId,
    }));
    caller = baton.task({ name: 'caller' }, async (_input: { via: string }) => {
      const { id } = await callApp({ ...contextHeaders(), 'baton-tags': 'hop=2' });
      await getRunContext().log(`enqueued ${id}`);
      return id;
    });
    await baton.worker({ name: 'w', slots: 4, pollInterval: '20ms', shutdownTimeout: '2s', tasks: [record, caller] }).start();
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function expectChildOfCaller(via: string): Promise<void> {
    const callerHandle = await caller.enqueue({ via });
    const childId = await callerHandle.result();
    const child = await (await baton.runs.get<Recorded>(childId)).result();
    // The caller has no tags of its own: the child gets the header's, and its parent is the caller.
    expect(child).toEqual({ tags: { hop: '2', route: '/orders' }, parent: callerHandle.id });
  }

  function expectTraced(runId: string): void {
    const enqueue = exporter
      .getFinishedSpans()
      .find((s) => s.name === 'baton.enqueue record' && s.attributes['baton.run_id'] === runId);
    expect(enqueue?.spanContext().traceId).toBe(TRACE_ID);
    expect(enqueue?.parentSpanContext?.spanId).toBe(SPAN_ID);
  }

  it('Express: a POST enqueues with the request tags and trace, continues a calling task, and mounts the API', async () => {
    const app = express();
    app.use('/baton', expressHttp(baton, { auth: 'none' }));
    app.use(expressMiddleware({ tags: (req) => ({ route: req.path }) }));
    app.post('/orders', express.json(), async (req, res) => {
      const handle = await record.enqueue({ order: String(req.body.order) });
      res.status(201).json({ id: handle.id });
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"order":"o-1"}',
      });
    callApp = async (headers) => (await post(headers)).json() as Promise<{ id: string }>;
    try {
      const response = await post({
        'baton-tags': 'source=crm,team=growth%2Cplus',
        traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`,
      });
      expect(response.status).toBe(201);
      const { id } = (await response.json()) as { id: string };
      const output = await (await baton.runs.get<Recorded>(id)).result();
      expect(output).toEqual({ tags: { source: 'crm', team: 'growth,plus', route: '/orders' }, parent: undefined });
      expectTraced(id);

      // The API, mounted at /baton, shows the run with its tags; /baton sends the browser to /baton/.
      const shown = (await (await fetch(`${base}/baton/api/v1/runs/${id}`)).json()) as { tags: Record<string, string> };
      expect(shown.tags).toEqual({ source: 'crm', team: 'growth,plus', route: '/orders' });
      const bare = await fetch(`${base}/baton?x=1`, { redirect: 'manual' });
      expect([bare.status, bare.headers.get('location')]).toEqual([308, '/baton/?x=1']);

      await expectChildOfCaller('express');

      const refused = await post({ 'baton-tags': 'no-equals-sign' });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/baton-tags header is malformed/);
      const forged = await post({ 'baton-context': 'bt1.e30.forged' });
      expect(forged.status).toBe(400);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('Hono: a POST enqueues with the request tags and trace, and continues a calling task', async () => {
    const app = new Hono();
    app.use(honoMiddleware({ tags: (c) => ({ route: c.req.path }) }));
    app.post('/orders', async (c) => {
      const body = await c.req.json<{ order: string }>();
      return c.json({ id: (await record.enqueue(body)).id }, 201);
    });
    const post = (headers: Record<string, string>) =>
      app.request('/orders', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"order":"o-2"}',
      });
    callApp = async (headers) => (await post(headers)).json() as Promise<{ id: string }>;

    const response = await post({ 'baton-tags': 'source=crm', traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    expect(await (await baton.runs.get<Recorded>(id)).result()).toEqual({
      tags: { source: 'crm', route: '/orders' },
      parent: undefined,
    });
    expectTraced(id);

    await expectChildOfCaller('hono');
    expect((await post({ 'baton-tags': '=x' })).status).toBe(400);
  });

  it('Fastify: hooks carry the scope past body parsing, and the API mounts under a prefix', async () => {
    const app = Fastify();
    await app.register(fastifyHttp, { baton, prefix: '/baton', auth: 'none' });
    await app.register(batonPlugin, { tags: (request) => ({ route: request.url }) });
    app.post('/orders', async (request, reply) => {
      const handle = await record.enqueue(request.body as { order: string });
      return reply.code(201).send({ id: handle.id });
    });
    // A real server: Fastify parses bodies from socket events, outside the scope the hooks opened.
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"order":"o-3"}',
      });
    callApp = async (headers) => (await post(headers)).json() as Promise<{ id: string }>;
    try {
      const response = await post({ 'baton-tags': 'source=crm' });
      expect(response.status).toBe(201);
      const { id } = (await response.json()) as { id: string };
      expect(await (await baton.runs.get<Recorded>(id)).result()).toEqual({
        tags: { source: 'crm', route: '/orders' },
        parent: undefined,
      });

      const shown = await app.inject({ method: 'GET', url: `/baton/api/v1/runs/${id}` });
      expect(shown.json().tags).toEqual({ source: 'crm', route: '/orders' });
      const started = await app.inject({
        method: 'POST',
        url: '/baton/api/v1/runs',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ task: 'record', input: { order: 'o-4' }, options: { tags: { via: 'api' } } }),
      });
      expect(started.statusCode).toBe(201);
      // batonPlugin's hooks cover every route of the instance, the mounted API's too.
      const viaApi = await (await baton.runs.get<Recorded>(started.json().id)).result();
      expect(viaApi).toEqual({ tags: { via: 'api', route: '/baton/api/v1/runs' }, parent: undefined });

      await expectChildOfCaller('fastify');
      expect((await post({ 'baton-tags': 'x' })).status).toBe(400);
    } finally {
      await app.close();
    }
  });
});
