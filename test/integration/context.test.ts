/**
 * The execution context (DESIGN.md §2.2, §2.3, §2.12): every data field, ambient
 * access from helpers, children and their inheritance, closed contexts, logs,
 * progress, streams, generator tasks and the worker lifespan — on both stores.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Baton,
  ContextClosedError,
  getCustomContext,
  getRunContext,
  getTaskContext,
  MissingContextError,
  type TaskContext,
  taskLog,
  withCustomContext,
  withTags,
} from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor } from '../support/wait.js';

describe('ambient access outside a task', () => {
  it('getTaskContext() is undefined and getRunContext() throws MissingContextError', () => {
    expect(getTaskContext()).toBeUndefined();
    expect(() => getRunContext()).toThrow(MissingContextError);
  });
});

/** The data fields of a context, copied while the attempt is live. */
function snapshot(ctx: TaskContext<unknown, unknown>) {
  return {
    taskRunId: ctx.taskRunId,
    workflowRunId: ctx.workflowRunId,
    workflowId: ctx.workflowId,
    workflowVersionId: ctx.workflowVersionId,
    workflowName: ctx.workflowName,
    taskName: ctx.taskName,
    action: { ...ctx.action },
    attempt: ctx.attempt,
    attemptNumber: ctx.attemptNumber,
    retryCount: ctx.retryCount,
    tags: ctx.tags,
    additionalMetadata: ctx.additionalMetadata,
    priority: ctx.priority,
    input: ctx.input,
    workflowInput: ctx.workflowInput,
    parentWorkflowRunId: ctx.parentWorkflowRunId,
    wasTriggeredByEvent: ctx.wasTriggeredByEvent,
    triggeringEvent: ctx.triggeringEvent,
    trigger: ctx.trigger,
    worker: ctx.worker,
    lifespan: ctx.lifespan,
    customContext: ctx.customContext,
    deadline: ctx.deadline,
    rawDataPath: ctx.rawDataPath,
    signalAborted: ctx.signal.aborted,
    cancellation: ctx.cancellation,
  };
}

describeEachStore('task context', (backend: BackendName) => {
  let fixture: StoreFixture;
  let clock: TestClock;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    clock = new TestClock();
    baton = fixture.baton({ clock });
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function startWorker(
    tasks: Parameters<Baton['worker']>[0]['tasks'],
    extra: Partial<Parameters<Baton['worker']>[0]> = {},
  ) {
    const worker = baton.worker({ name: 'w1', slots: 20, pollInterval: '20ms', shutdownTimeout: '2s', tasks, ...extra });
    await worker.start();
    return worker;
  }

  it('a helper three calls deep reads the context with no arguments', async () => {
    const level3 = () => getTaskContext<{ n: number }>();
    const level2 = async () => {
      await Promise.resolve();
      return level3();
    };
    const level1 = async () => level2();
    const task = baton.task({ name: 'deep' }, async (_input: { n: number }) => {
      const ctx = await level1();
      return { runId: ctx?.taskRunId, n: ctx?.input.n, same: ctx === getRunContext() };
    });
    await startWorker([task]);
    const handle = await task.enqueue({ n: 7 });
    expect(await handle.result({ timeout: '5s' })).toEqual({ runId: handle.id, n: 7, same: true });
  });

  it('exposes every data field, on the first attempt and on a retry', async () => {
    const seen: ReturnType<typeof snapshot>[] = [];
    const rawDataRoot = join(tmpdir(), 'baton-raw-data');
    baton = fixture.baton({ clock, rawDataRoot });
    const task = baton.task({ name: 'fields', retries: 1, retryDelay: 0, timeout: '1m' }, async (_input: { x: number }, ctx) => {
      seen.push(snapshot(ctx as TaskContext<unknown, unknown>));
      if (ctx.attempt === 0) throw new Error('first attempt fails');
      return 'ok';
    });
    const lifespanValue = { db: 'conn' };
    const worker = await startWorker([task], {
      labels: { region: 'eu' },
      lifespan: async function* () {
        yield lifespanValue;
      },
    });
    const handle = await task.enqueue({ x: 1 }, { tags: { team: 'a' }, metadata: { trace: 'abc', n: 2 }, priority: 3 });
    expect(await handle.result({ timeout: '5s' })).toBe('ok');
    expect(seen).toHaveLength(2);
    const [first, second] = seen as [ReturnType<typeof snapshot>, ReturnType<typeof snapshot>];
    expect(first.taskRunId).toBe(handle.id);
    expect(first.workflowRunId).toBe(handle.id);
    expect(first.action).toEqual({ runId: handle.id, name: 'fields' });
    expect(first.taskName).toBe('fields');
    expect(first.workflowName).toBe('fields');
    expect(typeof first.workflowId).toBe('string');
    expect(typeof first.workflowVersionId).toBe('string');
    expect([first.attempt, first.attemptNumber, first.retryCount]).toEqual([0, 1, 0]);
    expect([second.attempt, second.attemptNumber, second.retryCount]).toEqual([1, 2, 1]);
    expect(first.tags).toEqual({ team: 'a' });
    expect(first.additionalMetadata).toEqual({ trace: 'abc', n: 2 });
    expect(first.priority).toBe(3);
    expect(first.input).toEqual({ x: 1 });
    expect(first.workflowInput).toEqual({ x: 1 });
    expect(first.parentWorkflowRunId).toBeUndefined();
    expect(first.wasTriggeredByEvent).toBe(false);
    expect(first.triggeringEvent).toBeUndefined();
    expect(first.trigger).toEqual({ kind: 'manual' });
    expect(second.trigger).toEqual({ kind: 'retry', previousAttempt: 0, origin: { kind: 'manual' } });
    expect(first.worker).toEqual({ id: worker.id, name: 'w1', labels: { region: 'eu' } });
    expect(first.lifespan).toBe(lifespanValue);
    expect(first.customContext).toEqual({});
    expect(first.deadline).toBeInstanceOf(Date);
    expect(first.deadline?.getTime()).toBe(clock.now() + 60_000);
    expect(first.rawDataPath).toBe(join(rawDataRoot, handle.id));
    expect(first.signalAborted).toBe(false);
    expect(first.cancellation).toBeUndefined();
  });

  it('has no deadline without a timeout, and {} tags and metadata when none were given', async () => {
    let data: ReturnType<typeof snapshot> | undefined;
    const task = baton.task({ name: 'plain' }, async (_: null, ctx) => {
      data = snapshot(ctx as TaskContext<unknown, unknown>);
    });
    await startWorker([task]);
    await (await task.enqueue(null)).result({ timeout: '5s' });
    expect(data?.deadline).toBeUndefined();
    expect(data?.tags).toEqual({});
    expect(data?.additionalMetadata).toEqual({});
    expect(data?.customContext).toEqual({});
    expect(data?.priority).toBe(1);
  });

  it('counts attempts 0, 1, 2 over retries', async () => {
    const attempts: [number, number, number][] = [];
    const task = baton.task({ name: 'flaky', retries: 2, retryDelay: 0 }, async (_: null, ctx) => {
      attempts.push([ctx.attempt, ctx.attemptNumber, ctx.retryCount]);
      if (ctx.attempt < 2) throw new Error(`fail ${ctx.attempt}`);
      return ctx.attempt;
    });
    await startWorker([task]);
    const handle = await task.enqueue(null);
    expect(await handle.result({ timeout: '5s' })).toBe(2);
    expect(attempts).toEqual([
      [0, 1, 0],
      [1, 2, 1],
      [2, 3, 2],
    ]);
  });

  it('a checkpoint saved by attempt 0 is loaded by attempt 1, which resumes from it', async () => {
    const processed: number[] = [];
    const task = baton.task({ name: 'resumable', retries: 1, retryDelay: 0 }, async (_: null, ctx) => {
      const saved = await ctx.checkpoint.load<{ next: number }>();
      const start = saved?.next ?? 0;
      for (let i = start; i < 5; i++) {
        if (ctx.attempt === 0 && i === 3) throw new Error('crash midway');
        processed.push(i);
        await ctx.checkpoint.save({ next: i + 1 });
      }
      return { resumedFrom: start };
    });
    await startWorker([task]);
    const handle = await task.enqueue(null);
    expect(await handle.result({ timeout: '5s' })).toEqual({ resumedFrom: 3 });
    expect(processed).toEqual([0, 1, 2, 3, 4]);
  });

  it('withCustomContext in a loop gives each child its own customContext', async () => {
    const child = baton.task({ name: 'child' }, async (i: number, ctx) => ({ i, increment: ctx.customContext.increment }));
    const parent = baton.task({ name: 'parent' }, async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const h = await withCustomContext({ increment: String(i) }, () => child.enqueue(i));
        ids.push(h.id);
      }
      return ids;
    });
    await startWorker([parent, child]);
    const ids = await (await parent.enqueue(undefined)).result({ timeout: '5s' });
    const outputs = await Promise.all(ids.map(async (id) => (await baton.runs.get(id)).result({ timeout: '5s' })));
    expect(outputs).toEqual([
      { i: 0, increment: '0' },
      { i: 1, increment: '1' },
      { i: 2, increment: '2' },
    ]);
  });

  it('children are linked to their parent and inherit tags and metadata with the documented precedence', async () => {
    const seen = new Map<string, ReturnType<typeof snapshot>>();
    const child = baton.task({ name: 'kid' }, async (label: string, ctx) => {
      seen.set(label, snapshot(ctx as TaskContext<unknown, unknown>));
    });
    let parentRunId = '';
    const parent = baton.task({ name: 'mom' }, async (_: null, ctx) => {
      parentRunId = ctx.taskRunId;
      const handles = [await child.enqueue('bare')];
      await withTags({ b: 'outer', c: 'outer', d: 'outer' }, async () => {
        await withTags({ c: 'inner' }, async () => {
          handles.push(await child.enqueue('scoped', { tags: { d: 'explicit' }, metadata: { m2: 'child' } }));
        });
      });
      await withCustomContext({ k: 'v' }, async () => {
        handles.push(await child.enqueue('detached', { detached: true, tags: { only: 'mine' } }));
      });
      await Promise.all(handles.map((h) => h.result({ timeout: '5s' })));
      return handles.map((h) => h.id);
    });
    await startWorker([parent, child]);
    const handle = await parent.enqueue(null, {
      tags: { a: 'parent', b: 'parent', c: 'parent' },
      metadata: { m1: 'p', m2: 'p' },
    });
    const [bareId, scopedId, detachedId] = await handle.result({ timeout: '5s' });
    expect(parentRunId).toBe(handle.id);

    const bare = seen.get('bare');
    expect(bare?.taskRunId).toBe(bareId);
    expect(bare?.parentWorkflowRunId).toBe(handle.id);
    expect(bare?.trigger).toEqual({ kind: 'child', parentTaskRunId: handle.id });
    expect(bare?.tags).toEqual({ a: 'parent', b: 'parent', c: 'parent' });
    expect(bare?.additionalMetadata).toEqual({ m1: 'p', m2: 'p' });

    const scoped = seen.get('scoped');
    expect(scoped?.taskRunId).toBe(scopedId);
    // explicit enqueue tags > innermost withTags scope > outer scope > parent's tags
    expect(scoped?.tags).toEqual({ a: 'parent', b: 'outer', c: 'inner', d: 'explicit' });
    expect(scoped?.additionalMetadata).toEqual({ m1: 'p', m2: 'child' });

    const detached = seen.get('detached');
    expect(detached?.taskRunId).toBe(detachedId);
    expect(detached?.parentWorkflowRunId).toBeUndefined();
    expect(detached?.trigger).toEqual({ kind: 'manual' });
    expect(detached?.tags).toEqual({ only: 'mine' });
    expect(detached?.additionalMetadata).toEqual({});
    expect(detached?.customContext).toEqual({});

    const children = await baton.runs.list({ parentRunId: handle.id });
    expect(children.items.map((i) => i.id).sort()).toEqual([bareId, scopedId].sort());
  });

  it('withTags outside a task tags the runs enqueued inside it; explicit tags win per key', async () => {
    let tags: Readonly<Record<string, string>> | undefined;
    const task = baton.task({ name: 'tagged' }, async (_: null, ctx) => {
      tags = ctx.tags;
    });
    await startWorker([task]);
    const handle = await withTags({ team: 'x', env: 'test' }, () => task.enqueue(null, { tags: { env: 'prod' } }));
    await handle.result({ timeout: '5s' });
    expect(tags).toEqual({ team: 'x', env: 'prod' });
    const listed = await baton.runs.list({ tags: { team: 'x' } });
    expect(listed.items.map((i) => i.id)).toEqual([handle.id]);
  });

  it('closes the context when the attempt ends: leftovers see no context and cannot change the run', async () => {
    const gate = deferred();
    type Outcome = { ok: true } | { ok: false; error: unknown };
    const leftover: {
      ambient?: unknown;
      putStream?: Outcome;
      cancel?: Outcome;
      save?: Outcome;
      refresh?: Outcome;
      log?: Outcome;
      childId?: string;
      done?: boolean;
    } = {};
    const capture = async (fn: () => unknown): Promise<Outcome> => {
      try {
        await fn();
        return { ok: true };
      } catch (error) {
        return { ok: false, error };
      }
    };
    const other = baton.task({ name: 'other' }, async () => 'x');
    const task = baton.task({ name: 'leaves-callback', timeout: '1m' }, async (_: null, ctx) => {
      void gate.promise.then(() => {
        setTimeout(async () => {
          leftover.ambient = getTaskContext();
          leftover.putStream = await capture(() => ctx.putStream('late'));
          leftover.cancel = await capture(() => ctx.cancel('late'));
          leftover.save = await capture(() => ctx.checkpoint.save({ late: true }));
          leftover.refresh = await capture(() => ctx.refreshTimeout('1h'));
          leftover.log = await capture(() => ctx.log('late line'));
          leftover.childId = (await other.enqueue(undefined)).id;
          leftover.done = true;
        }, 0);
      });
      await ctx.log('on time');
      return 'returned';
    });
    await startWorker([task, other]);
    const handle = await task.enqueue(null);
    expect(await handle.result({ timeout: '5s' })).toBe('returned');
    gate.resolve();
    await waitFor(() => leftover.done, { message: 'the leftover callback to run' });
    expect(leftover.ambient).toBeUndefined();
    for (const key of ['putStream', 'cancel', 'save', 'refresh'] as const) {
      const outcome = leftover[key];
      expect(outcome?.ok, key).toBe(false);
      if (outcome && !outcome.ok) expect(outcome.error, key).toBeInstanceOf(ContextClosedError);
    }
    expect(leftover.log).toEqual({ ok: true });
    // The leftover log line went to the process logger, not onto the run; the run was not changed.
    expect((await handle.logs()).map((l) => l.message)).toEqual(['on time']);
    expect((await handle.state()).name).toBe('Completed');
    const chunks: unknown[] = [];
    for await (const chunk of handle.stream()) chunks.push(chunk);
    expect(chunks).toEqual([]);
    // An enqueue from the leftover callback is not linked as a child.
    const orphan = await baton.store().then((s) => s.getRun('default', leftover.childId ?? ''));
    expect(orphan?.parentRunId).toBeNull();
    expect(orphan?.trigger).toEqual({ kind: 'manual' });
  });

  it('stores log lines with levels, fields and object form; handle.logs() in write order', async () => {
    const task = baton.task({ name: 'logger', retries: 1, retryDelay: 0 }, async (_: null, ctx) => {
      if (ctx.attempt === 0) {
        await ctx.log('first attempt');
        throw new Error('retry me');
      }
      await ctx.log('plain');
      await ctx.log('with fields', { k: 1 });
      await ctx.log({ user: 'u1', n: 2 });
      await ctx.log('dbg', undefined, { level: 'debug' });
      await ctx.log('careful', { code: 'W1' }, { level: 'warn' });
      await ctx.log('bad', undefined, { level: 'error' });
      await ctx.log('explicit info', undefined, { level: 'info' });
      await taskLog('via taskLog', { where: 'inside' });
    });
    await startWorker([task]);
    const handle = await task.enqueue(null);
    await handle.result({ timeout: '5s' });
    const logs = await handle.logs();
    expect(logs.map(({ level, message, fields, attempt }) => ({ level, message, fields, attempt }))).toEqual([
      { level: 'info', message: 'first attempt', fields: undefined, attempt: 0 },
      { level: 'info', message: 'plain', fields: undefined, attempt: 1 },
      { level: 'info', message: 'with fields', fields: { k: 1 }, attempt: 1 },
      { level: 'info', message: JSON.stringify({ user: 'u1', n: 2 }), fields: { user: 'u1', n: 2 }, attempt: 1 },
      { level: 'debug', message: 'dbg', fields: undefined, attempt: 1 },
      { level: 'warn', message: 'careful', fields: { code: 'W1' }, attempt: 1 },
      { level: 'error', message: 'bad', fields: undefined, attempt: 1 },
      { level: 'info', message: 'explicit info', fields: undefined, attempt: 1 },
      { level: 'info', message: 'via taskLog', fields: { where: 'inside' }, attempt: 1 },
    ]);
    for (const entry of logs) {
      expect(entry.time).toBeInstanceOf(Date);
      expect(Object.keys(entry).sort()).toEqual(
        entry.fields ? ['attempt', 'fields', 'level', 'message', 'time'] : ['attempt', 'level', 'message', 'time'],
      );
    }
    expect(logs[1]?.time.getTime()).toBe(clock.now());
  });

  it('taskLog outside a task goes to the process logger and stores nothing', async () => {
    const lines: { level: string; obj: object; msg?: string }[] = [];
    const record = (level: string) => (obj: object, msg?: string) => lines.push({ level, obj, msg });
    fixture.baton({
      clock,
      logger: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
    });
    await expect(taskLog('outside', { a: 1 })).resolves.toBeUndefined();
    expect(lines).toContainEqual({ level: 'info', obj: { a: 1 }, msg: 'outside' });
  });

  it('ctx.progress stores a fraction and message; out-of-range values are refused', async () => {
    const gate = deferred();
    let rangeError: unknown;
    const task = baton.task({ name: 'progress' }, async (_: null, ctx) => {
      await ctx.progress(0.5, 'half way');
      rangeError = await ctx.progress(1.5).catch((e: unknown) => e);
      await gate.promise;
      await ctx.progress(1);
    });
    await startWorker([task]);
    const handle = await task.enqueue(null);
    const store = await baton.store();
    const mid = await waitFor(async () => {
      const run = await store.getRun('default', handle.id);
      return run?.progress === 0.5 ? run : undefined;
    });
    expect(mid.progressMessage).toBe('half way');
    gate.resolve();
    await handle.result({ timeout: '5s' });
    expect((await store.getRun('default', handle.id))?.progress).toBe(1);
    expect(rangeError).toBeInstanceOf(RangeError);
  });

  it('putStream chunks reach live and late subscribers, in order', async () => {
    const gate = deferred();
    const bytes = new Uint8Array([1, 2, 3]);
    const task = baton.task({ name: 'streamer' }, async (_: null, ctx) => {
      await ctx.putStream('one');
      await ctx.putStream({ two: 2 });
      await gate.promise;
      await ctx.putStream(bytes);
      await ctx.putStream([4]);
      return 'streamed';
    });
    await startWorker([task]);
    const handle = await task.enqueue(null);
    const live: unknown[] = [];
    const liveDone = (async () => {
      for await (const chunk of handle.stream()) {
        live.push(chunk);
        if (live.length === 2) gate.resolve();
      }
    })();
    await handle.result({ timeout: '5s' });
    await liveDone;
    const expected = ['one', { two: 2 }, bytes, [4]];
    expect(live).toEqual(expected);
    const late: unknown[] = [];
    for await (const chunk of handle.stream()) late.push(chunk);
    expect(late).toEqual(expected);
    expect(late[2]).toBeInstanceOf(Uint8Array);
  });

  it('a generator task streams its yields and outputs their array', async () => {
    const task = baton.task({ name: 'gen' }, async function* (n: number) {
      for (let i = 1; i <= n; i++) yield { i };
    });
    await startWorker([task]);
    const handle = await task.enqueue(3);
    expect(await handle.result({ timeout: '5s' })).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
    const chunks: unknown[] = [];
    for await (const chunk of handle.stream()) chunks.push(chunk);
    expect(chunks).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
  });

  it('a generator task that returns a value outputs that value (its yields still stream)', async () => {
    const task = baton.task({ name: 'gen-return' }, async function* () {
      yield 'a';
      yield 'b';
      return { total: 2 };
    });
    await startWorker([task]);
    const handle = await task.enqueue(undefined);
    expect(await handle.result({ timeout: '5s' })).toEqual({ total: 2 });
    const chunks: unknown[] = [];
    for await (const chunk of handle.stream()) chunks.push(chunk);
    expect(chunks).toEqual(['a', 'b']);
  });

  it('stream chunks written by an earlier attempt stay, in order, after a retry', async () => {
    const task = baton.task({ name: 'stream-retry', retries: 1, retryDelay: 0 }, async (_: null, ctx) => {
      await ctx.putStream(`attempt ${ctx.attempt} chunk 1`);
      if (ctx.attempt === 0) throw new Error('retry');
      await ctx.putStream(`attempt ${ctx.attempt} chunk 2`);
    });
    await startWorker([task]);
    const handle = await task.enqueue(null);
    await handle.result({ timeout: '5s' });
    const chunks: unknown[] = [];
    for await (const chunk of handle.stream()) chunks.push(chunk);
    expect(chunks).toEqual(['attempt 0 chunk 1', 'attempt 1 chunk 1', 'attempt 1 chunk 2']);
  });

  it('custom context set around an enqueue reaches the run and flows on to its children, inner scopes winning', async () => {
    const seen = new Map<string, Readonly<Record<string, string>>>();
    const grandchild = baton.task({ name: 'gc' }, async (_: null, ctx) => {
      seen.set('grandchild', ctx.customContext);
    });
    const child = baton.task({ name: 'c' }, async (_: null, ctx) => {
      seen.set('child', ctx.customContext);
      seen.set('child-ambient', getCustomContext());
      const h = await withCustomContext({ b: 'grandchild' }, () => grandchild.enqueue(null));
      await h.result({ timeout: '5s' });
    });
    await startWorker([child, grandchild]);
    const handle = await withCustomContext({ a: '1', b: 'outer' }, () =>
      withCustomContext({ b: 'inner' }, () => child.enqueue(null)),
    );
    await handle.result({ timeout: '5s' });
    expect(seen.get('child')).toEqual({ a: '1', b: 'inner' });
    expect(seen.get('child-ambient')).toEqual({ a: '1', b: 'inner' });
    expect(seen.get('grandchild')).toEqual({ a: '1', b: 'grandchild' });
  });

  it('shares the lifespan value across runs and runs its cleanup on worker.stop()', async () => {
    const events: string[] = [];
    let starts = 0;
    const seen: unknown[] = [];
    const task = baton.task({ name: 'uses-lifespan' }, async (_: number, ctx: TaskContext<number, { pool: number }>) => {
      seen.push(ctx.lifespan);
      return ctx.lifespan.pool;
    });
    const worker = await startWorker([task], {
      lifespan: async function* () {
        starts++;
        events.push('open');
        yield { pool: 42 };
        events.push('close');
      },
    });
    const outputs = await Promise.all([1, 2, 3].map(async (n) => (await task.enqueue(n)).result({ timeout: '5s' })));
    expect(outputs).toEqual([42, 42, 42]);
    expect(starts).toBe(1);
    expect(seen).toHaveLength(3);
    expect(seen[0]).toBe(seen[1]);
    expect(seen[1]).toBe(seen[2]);
    expect(events).toEqual(['open']);
    await worker.stop();
    expect(events).toEqual(['open', 'close']);
  });
});
