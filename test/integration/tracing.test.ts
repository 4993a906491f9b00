/**
 * OpenTelemetry (issue 7): one trace from the enqueuing request through the worker
 * into child runs (spans for enqueue, attempt and durable step; W3C trace context
 * stored with each run), failed attempts with status ERROR, baggage from typed
 * context keys, and log lines bound to their run — on both stores, with an
 * in-memory exporter.
 */
import { context, propagation, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Baton, defineContextKey, getTaskContext, type Logger, taskLog } from 'baton';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();
const tracer = trace.getTracer('test');

beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(contextManager.enable());
});

afterAll(async () => {
  trace.disable();
  context.disable();
  propagation.disable();
  await provider.shutdown();
});

function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

function oneSpan(name: string, attributes: Record<string, unknown> = {}): ReadableSpan {
  const found = spansNamed(name).filter((s) => Object.entries(attributes).every(([k, v]) => s.attributes[k] === v));
  expect(found, `one span "${name}" with ${JSON.stringify(attributes)}`).toHaveLength(1);
  return found[0] as ReadableSpan;
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** A logger that keeps every line (no `child`, so Baton's own binding wrapper is used). */
function memoryLogger(): Logger & { lines: { level: string; obj: Record<string, unknown>; msg?: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, ...(msg === undefined ? {} : { msg }) });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), isLevelEnabled: () => true };
}

const tenant = defineContextKey<string>('tenant');
const apiToken = defineContextKey<string>('apiToken', { redact: true });

describeEachStore('tracing', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    exporter.reset();
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function startWorker(tasks: Parameters<Baton['worker']>[0]['tasks']) {
    const worker = baton.worker({ name: 'w1', slots: 8, pollInterval: '20ms', shutdownTimeout: '2s', tasks });
    await worker.start();
    return worker;
  }

  it('one trace spans the request, the enqueue, the attempt, the child enqueue and the child attempt', async () => {
    const child = baton.task({ name: 'child' }, async (input: { n: number }) => input.n * 2);
    const parent = baton.task({ name: 'parent' }, async (_input: null) => {
      const handle = await child.enqueue({ n: 21 });
      return { childId: handle.id, doubled: await handle.result({ timeout: '5s' }) };
    });
    await startWorker([parent, child]);

    const request = tracer.startSpan('GET /orders');
    const handle = await context.with(trace.setSpan(context.active(), request), () => parent.enqueue(null));
    request.end();
    const output = await handle.result({ timeout: '10s' });
    expect(output.doubled).toBe(42);
    await waitFor(() => spansNamed('baton.run child').length === 1 && spansNamed('baton.run parent').length === 1);

    const enqueue = oneSpan('baton.enqueue parent');
    const attempt = oneSpan('baton.run parent');
    const childEnqueue = oneSpan('baton.enqueue child');
    const childAttempt = oneSpan('baton.run child');
    const requestSpan = oneSpan('GET /orders');
    const traceId = requestSpan.spanContext().traceId;
    for (const span of [enqueue, attempt, childEnqueue, childAttempt]) expect(span.spanContext().traceId).toBe(traceId);
    expect(parentOf(enqueue)).toBe(requestSpan.spanContext().spanId);
    expect(parentOf(attempt)).toBe(enqueue.spanContext().spanId);
    expect(parentOf(childEnqueue)).toBe(attempt.spanContext().spanId);
    expect(parentOf(childAttempt)).toBe(childEnqueue.spanContext().spanId);
    expect(attempt.attributes).toMatchObject({
      'baton.run_id': handle.id,
      'baton.task': 'parent',
      'baton.attempt': 0,
      'baton.workflow_run_id': handle.id,
      'baton.state': 'Completed',
    });
    expect(childAttempt.attributes).toMatchObject({ 'baton.run_id': output.childId, 'baton.task': 'child', 'baton.attempt': 0 });
    expect(enqueue.attributes).toMatchObject({ 'baton.run_id': handle.id, 'baton.task': 'parent' });
    expect(attempt.status.code).not.toBe(SpanStatusCode.ERROR);

    // The trace context is stored with the run, as W3C headers.
    const stored = await (await baton.store()).getRun('default', handle.id);
    expect(stored?.traceContext?.traceparent).toBe(`00-${traceId}-${enqueue.spanContext().spanId}-01`);
  });

  it('a run enqueued with no active span starts its own trace at the enqueue', async () => {
    const task = baton.task({ name: 'rooted' }, async () => 'ok');
    await startWorker([task]);
    const handle = await task.enqueue(undefined);
    await handle.result({ timeout: '5s' });
    await waitFor(() => spansNamed('baton.run rooted').length === 1);
    const enqueue = oneSpan('baton.enqueue rooted');
    expect(parentOf(enqueue)).toBeUndefined();
    expect(parentOf(oneSpan('baton.run rooted'))).toBe(enqueue.spanContext().spanId);
  });

  it('a failed attempt has status ERROR with the exception; the retry is a new span of the same trace', async () => {
    const flaky = baton.task({ name: 'flaky', retries: 1, retryDelay: 0 }, async (_: null, ctx) => {
      if (ctx.attempt === 0) throw new Error('first attempt fails');
      return 'ok';
    });
    await startWorker([flaky]);
    const handle = await flaky.enqueue(null);
    expect(await handle.result({ timeout: '5s' })).toBe('ok');
    await waitFor(() => spansNamed('baton.run flaky').length === 2);
    const first = oneSpan('baton.run flaky', { 'baton.attempt': 0 });
    const second = oneSpan('baton.run flaky', { 'baton.attempt': 1 });
    expect(first.status).toEqual({ code: SpanStatusCode.ERROR, message: 'first attempt fails' });
    expect(
      first.events.some((e) => e.name === 'exception' && e.attributes?.['exception.message'] === 'first attempt fails'),
    ).toBe(true);
    expect(first.attributes['baton.state']).toBe('AwaitingRetry');
    expect(second.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(second.spanContext().traceId).toBe(first.spanContext().traceId);
    expect(parentOf(second)).toBe(parentOf(first));
  });

  it('a durable task has a span per executed step under its attempt, with retries as events', async () => {
    let failures = 0;
    const durable = baton.durableTask({ name: 'stepper' }, async (_: null, ctx) => {
      const a = await ctx.step('fetch', () => 1);
      const b = await ctx.step(
        'charge',
        () => {
          if (failures++ === 0) throw new Error('card network hiccup');
          return 2;
        },
        { retries: 1 },
      );
      return a + b;
    });
    await startWorker([durable]);
    const handle = await durable.enqueue(null);
    expect(await handle.result({ timeout: '5s' })).toBe(3);
    await waitFor(() => spansNamed('baton.run stepper').length === 1);
    const attempt = oneSpan('baton.run stepper');
    const fetch = oneSpan('baton.step fetch');
    const charge = oneSpan('baton.step charge');
    expect(parentOf(fetch)).toBe(attempt.spanContext().spanId);
    expect(parentOf(charge)).toBe(attempt.spanContext().spanId);
    expect(fetch.attributes).toMatchObject({ 'baton.step': 'fetch#1', 'baton.run_id': handle.id, 'baton.task': 'stepper' });
    expect(charge.events.map((e) => e.name)).toEqual(['baton.step.retry']);
    expect(charge.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('a step that fails for good has status ERROR', async () => {
    const durable = baton.durableTask({ name: 'doomed' }, async (_: null, ctx) => {
      await ctx.step('explode', () => {
        throw new Error('no way');
      });
    });
    await startWorker([durable]);
    const handle = await durable.enqueue(null);
    await expect(handle.result({ timeout: '5s' })).rejects.toThrow();
    await waitFor(() => spansNamed('baton.run doomed').length === 1);
    expect(oneSpan('baton.step explode').status).toEqual({ code: SpanStatusCode.ERROR, message: 'no way' });
    expect(oneSpan('baton.run doomed').status.code).toBe(SpanStatusCode.ERROR);
  });

  it('workflow tasks are traced under the workflow enqueue', async () => {
    const wf = baton.workflow<{ x: number }>({ name: 'wf' });
    const first = wf.task({ name: 'first' }, async (input) => input.x + 1);
    wf.task({ name: 'second', parents: [first] }, async (_input, ctx) => ctx.parentOutput(first) * 2);
    await startWorker([wf]);
    const handle = await wf.enqueue({ x: 1 });
    expect(await handle.result({ timeout: '5s' })).toEqual({ first: 2, second: 4 });
    await waitFor(() => spansNamed('baton.run second').length === 1);
    const enqueue = oneSpan('baton.enqueue wf');
    expect(enqueue.attributes).toMatchObject({ 'baton.workflow_run_id': handle.id });
    for (const name of ['baton.run first', 'baton.run second']) {
      const span = oneSpan(name);
      expect(parentOf(span)).toBe(enqueue.spanContext().spanId);
      expect(span.attributes['baton.workflow_run_id']).toBe(handle.id);
    }
  });

  it('typed context values travel as baggage, except redacted ones', async () => {
    let baggage: Record<string, string> = {};
    const task = baton.task({ name: 'bagged' }, async () => {
      const entries = propagation.getActiveBaggage()?.getAllEntries() ?? [];
      baggage = Object.fromEntries(entries.map(([k, e]) => [k, e.value]));
      return apiToken.get();
    });
    await startWorker([task]);
    const handle = await tenant.with('acme', () => apiToken.with('sk-123', () => task.enqueue(undefined)));
    expect(await handle.result({ timeout: '5s' })).toBe('sk-123');
    expect(baggage.tenant).toBe('acme');
    expect(baggage.apiToken).toBeUndefined();
    const stored = await (await baton.store()).getRun('default', handle.id);
    expect(stored?.traceContext?.baggage).toBe('tenant=acme');
  });

  it('a failed attempt whose error holds a redacted value records it on the span as [redacted]', async () => {
    const leaky = baton.task({ name: 'leaky', retries: 0 }, async () => {
      throw new Error(`upstream refused ${apiToken.get()}`);
    });
    await startWorker([leaky]);
    const handle = await apiToken.with('sk-trace-77', () => leaky.enqueue(undefined));
    await expect(handle.result({ timeout: '5s' })).rejects.toThrow();
    await waitFor(() => spansNamed('baton.run leaky').length === 1);
    const span = oneSpan('baton.run leaky');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'upstream refused [redacted]' });
    expect(JSON.stringify(span.events)).not.toContain('sk-trace-77');
    expect(JSON.stringify(span.events)).toContain('upstream refused [redacted]');
  });

  it('log lines of an attempt carry runId, taskName, attempt and the trace ids', async () => {
    const logger = memoryLogger();
    baton = fixture.baton({ logger });
    let spanId = '';
    const task = baton.task({ name: 'chatty' }, async (_: null, ctx) => {
      spanId = trace.getActiveSpan()?.spanContext().spanId ?? '';
      await ctx.log('hello', { n: 1 });
      await taskLog('from a helper');
    });
    await startWorker([task]);
    const handle = await task.enqueue(null);
    await handle.result({ timeout: '5s' });
    const attempt = (await waitFor(() => spansNamed('baton.run chatty')[0])) as ReadableSpan;
    expect(spanId).toBe(attempt.spanContext().spanId);
    const hello = logger.lines.find((l) => l.msg === 'hello');
    expect(hello?.obj).toMatchObject({
      runId: handle.id,
      taskName: 'chatty',
      attempt: 0,
      n: 1,
      trace_id: attempt.spanContext().traceId,
      span_id: attempt.spanContext().spanId,
    });
    expect(logger.lines.find((l) => l.msg === 'from a helper')?.obj).toMatchObject({ runId: handle.id });
    expect((await handle.logs()).map((l) => l.message)).toEqual(['hello', 'from a helper']);
  });
});

describe('tracing outside a task', () => {
  it('taskLog outside a task adds trace_id and span_id of the active span', async () => {
    const logger = memoryLogger();
    const baton = new Baton({ database: ':memory:', logger }); // its logger becomes the process logger
    try {
      await tracer.startActiveSpan('outside', async (span: Span) => {
        await taskLog('outside a task', { k: 'v' });
        span.end();
        expect(logger.lines.at(-1)?.obj).toEqual({
          k: 'v',
          trace_id: span.spanContext().traceId,
          span_id: span.spanContext().spanId,
        });
      });
    } finally {
      await baton.close();
    }
  });

  it('without a context manager, an enqueue inside a task still hangs under the attempt', async () => {
    // Simulates an application without a context manager: Baton links children through the attempt.
    context.disable();
    const fixture = await createFixture('sqlite');
    try {
      exporter.reset();
      const baton = fixture.baton();
      const child = baton.task({ name: 'nc-child' }, async () => getTaskContext()?.taskName);
      const parent = baton.task({ name: 'nc-parent' }, async () => (await child.enqueue(undefined)).result({ timeout: '5s' }));
      const worker = baton.worker({ name: 'w', slots: 4, pollInterval: '20ms', tasks: [parent, child] });
      await worker.start();
      expect(await (await parent.enqueue(undefined)).result({ timeout: '5s' })).toBe('nc-child');
      await waitFor(() => spansNamed('baton.run nc-child').length === 1 && spansNamed('baton.run nc-parent').length === 1);
      expect(parentOf(oneSpan('baton.enqueue nc-child'))).toBe(oneSpan('baton.run nc-parent').spanContext().spanId);
      expect(oneSpan('baton.run nc-child').spanContext().traceId).toBe(oneSpan('baton.run nc-parent').spanContext().traceId);
    } finally {
      await fixture.cleanup();
      context.setGlobalContextManager(contextManager.enable());
    }
  });
});
