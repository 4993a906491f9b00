/**
 * The runs API (DESIGN.md §2, §2.7, §2.12): listing with filters and cursor
 * pagination, state history, enqueueMany outcomes, priority order, delayed runs
 * on a TestClock, and `baton.close()` — on both stores.
 */
import { type Baton, type RunHandle, ValidationError } from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor, waitForState } from '../support/wait.js';

describeEachStore('runs API', (backend: BackendName) => {
  let fixture: StoreFixture;
  let clock: TestClock;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    clock = new TestClock(new Date('2030-06-01T12:00:00.000Z'));
    baton = fixture.baton({ clock });
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function startWorker(tasks: Parameters<Baton['worker']>[0]['tasks'], slots = 10) {
    const worker = baton.worker({ name: 'w', slots, pollInterval: '20ms', shutdownTimeout: '1s', tasks });
    await worker.start();
    return worker;
  }

  it('list items carry id, taskName, workflowName, state, tags and createdAt; filters by task and tags', async () => {
    const a = baton.task({ name: 'task-a' }, async () => 'a');
    const b = baton.task({ name: 'task-b' }, async () => 'b');
    const t0 = clock.now();
    const ha = await a.enqueue(undefined, { tags: { team: 'red', env: 'prod' } });
    await clock.advance('1s');
    const hb = await b.enqueue(undefined, { tags: { team: 'blue' } });
    const all = await baton.runs.list();
    expect(all.nextCursor).toBeUndefined();
    expect(all.items.map((i) => i.id)).toEqual([hb.id, ha.id]); // newest first
    const item = all.items[1];
    expect(item).toMatchObject({
      id: ha.id,
      taskName: 'task-a',
      workflowName: 'task-a',
      tags: { team: 'red', env: 'prod' },
      createdAt: new Date(t0),
    });
    expect(item?.createdAt).toBeInstanceOf(Date);
    expect(item?.state).toMatchObject({ type: 'PENDING', name: 'Pending' });
    expect(item?.state.timestamp).toBeInstanceOf(Date);
    expect((await baton.runs.list({ task: 'task-b' })).items.map((i) => i.id)).toEqual([hb.id]);
    expect((await baton.runs.list({ tags: { team: 'red' } })).items.map((i) => i.id)).toEqual([ha.id]);
    expect((await baton.runs.list({ tags: { team: 'red', env: 'dev' } })).items).toEqual([]);
    expect((await baton.runs.list({ task: 'task-a', tags: { team: 'blue' } })).items).toEqual([]);
  });

  it('pages through 120 runs with limit 50, newest first, with no gaps or repeats', async () => {
    const task = baton.task({ name: 'many' }, async (n: number) => n);
    const created: string[] = [];
    // Two batches at different clock times, so the order spans both createdAt and id.
    for (const batch of [0, 1]) {
      const handles = await task.enqueueMany(Array.from({ length: 60 }, (_, i) => ({ input: batch * 60 + i })));
      created.push(...handles.map((h) => h.id));
      await clock.advance('1s');
    }
    const pages: string[][] = [];
    let cursor: string | undefined;
    let lastCreatedAt = Number.POSITIVE_INFINITY;
    for (let page = 0; page < 10; page++) {
      const result = await baton.runs.list({ limit: 50, ...(cursor === undefined ? {} : { cursor }) });
      pages.push(result.items.map((i) => i.id));
      for (const item of result.items) {
        expect(item.createdAt.getTime()).toBeLessThanOrEqual(lastCreatedAt);
        lastCreatedAt = item.createdAt.getTime();
      }
      cursor = result.nextCursor;
      if (cursor === undefined) break;
    }
    expect(pages.map((p) => p.length)).toEqual([50, 50, 20]);
    expect(pages.flat()).toEqual([...created].reverse());
    await expect(baton.runs.list({ limit: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(baton.runs.list({ cursor: 'garbage!' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('runs created while paging do not shift later pages', async () => {
    const task = baton.task({ name: 'paged' }, async (n: number) => n);
    const first = await task.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ input: i })));
    const page1 = await baton.runs.list({ limit: 10 });
    await clock.advance('1s');
    await task.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ input: 100 + i })));
    const seen = [...page1.items.map((i) => i.id)];
    let cursor = page1.nextCursor;
    for (let page = 0; page < 10 && cursor !== undefined; page++) {
      const result = await baton.runs.list({ limit: 10, cursor });
      seen.push(...result.items.map((i) => i.id));
      cursor = result.nextCursor;
    }
    expect(seen).toEqual(first.map((h) => h.id).reverse());
  });

  it('filters by status name and by status type', async () => {
    const ok = baton.task({ name: 'ok' }, async () => 'fine');
    const bad = baton.task({ name: 'bad' }, async () => {
      throw new Error('nope');
    });
    const slow = baton.task({ name: 'slow', timeout: '1s' }, async (_: null, ctx) => {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      throw ctx.signal.reason;
    });
    const never = baton.task({ name: 'never' }, async () => 'x');
    await startWorker([ok, bad, slow]);
    const done = await ok.enqueue(undefined);
    const failed = await bad.enqueue(undefined);
    const timedOut = await slow.enqueue(null);
    const pending = await never.enqueue(undefined);
    await done.result({ timeout: '5s' });
    await waitForState(failed, 'Failed');
    await waitForState(timedOut, 'Running');
    await waitFor(async () => (await timedOut.attempts()).length === 1);
    await clock.advance('1s');
    await waitForState(timedOut, 'TimedOut');
    const ids = async (status: Parameters<Baton['runs']['list']>[0]) =>
      (await baton.runs.list(status)).items.map((i) => i.id).sort();
    expect(await ids({ status: 'Completed' })).toEqual([done.id]);
    expect(await ids({ status: 'Failed' })).toEqual([failed.id]);
    expect(await ids({ status: 'TimedOut' })).toEqual([timedOut.id]);
    expect(await ids({ status: 'FAILED' })).toEqual([failed.id, timedOut.id].sort());
    expect(await ids({ status: 'PENDING' })).toEqual([pending.id]);
    expect(await ids({ status: ['Completed', 'Pending'] })).toEqual([done.id, pending.id].sort());
    const failedItem = (await baton.runs.list({ status: 'Failed' })).items[0];
    expect(failedItem?.state).toMatchObject({ type: 'FAILED', name: 'Failed' });
    expect(failedItem?.state.error?.message).toBe('nope');
    await expect(baton.runs.list({ status: 'Done' as never })).rejects.toBeInstanceOf(ValidationError);
  });

  it('handle.states() lists every state oldest first, with timestamps', async () => {
    const task = baton.task({ name: 'twice', retries: 1, retryDelay: '2s' }, async (_: null, ctx) => {
      if (ctx.attempt === 0) throw new Error('first');
      return 'second';
    });
    const t0 = clock.now();
    const handle = await task.enqueue(null, { delay: '5s' });
    await startWorker([task]);
    await clock.advance('5s');
    await waitForState(handle, 'AwaitingRetry');
    await clock.advance('2s');
    expect(await handle.result({ timeout: '5s' })).toBe('second');
    const states = await handle.states();
    expect(states.map((s) => [s.name, s.type])).toEqual([
      ['Scheduled', 'SCHEDULED'],
      ['Running', 'RUNNING'],
      ['AwaitingRetry', 'SCHEDULED'],
      ['Retrying', 'RUNNING'],
      ['Completed', 'COMPLETED'],
    ]);
    for (const state of states) expect(state.timestamp).toBeInstanceOf(Date);
    expect(states.map((s) => s.timestamp.getTime())).toEqual([t0, t0 + 5_000, t0 + 5_000, t0 + 7_000, t0 + 7_000]);
    expect(states[2]?.error?.message).toBe('first');
    expect(states[4]?.output).toBe('second');
    const current = await handle.state();
    expect(current).toMatchObject({ name: 'Completed', type: 'COMPLETED', output: 'second' });
  });

  it('enqueueMany returns one handle per item with its outcome', async () => {
    const task = baton.task({ name: 'bulk' }, async (n: number) => n);
    const earlier = await task.enqueue(1, { idempotencyKey: 'k1' });
    const handles = await task.enqueueMany([
      { input: 1, options: { idempotencyKey: 'k1' } },
      { input: 2 },
      { input: 3, options: { idempotencyKey: 'k3', priority: 4 } },
    ]);
    expect(handles.map((h) => h.outcome)).toEqual(['deduplicated', 'created', 'created']);
    expect(handles[0]?.id).toBe(earlier.id);
    expect(new Set(handles.map((h) => h.id)).size).toBe(3);
    expect((await baton.runs.list()).items).toHaveLength(3);
    await startWorker([task]);
    expect(await Promise.all(handles.map((h) => h.result({ timeout: '5s' })))).toEqual([1, 2, 3]);
  });

  it('a 1-slot worker claims higher priority first, and FIFO within one priority', async () => {
    const order: string[] = [];
    const gate = deferred();
    const blocker = baton.task({ name: 'blocker' }, async () => {
      await gate.promise;
    });
    const job = baton.task({ name: 'job' }, async (label: string) => {
      order.push(label);
    });
    await startWorker([blocker, job], 1);
    const blocking = await blocker.enqueue(undefined);
    await waitForState(blocking, 'Running');
    const spec: [string, number][] = [
      ['low-1', 1],
      ['high-1', 4],
      ['mid-2', 2],
      ['high-2', 4],
      ['mid-3', 3],
      ['low-2', 1],
      ['high-3', 4],
    ];
    const handles: RunHandle[] = [];
    for (const [label, priority] of spec) handles.push(await job.enqueue(label, { priority }));
    gate.resolve();
    await Promise.all(handles.map((h) => h.result({ timeout: '5s' })));
    expect(order).toEqual(['high-1', 'high-2', 'high-3', 'mid-3', 'mid-2', 'low-1', 'low-2']);
  });

  it('a task default priority applies and a per-run priority overrides it', async () => {
    const task = baton.task({ name: 'prio', priority: 3 }, async () => undefined);
    const a = await task.enqueue(undefined);
    const b = await task.enqueue(undefined, { priority: 1 });
    const store = await baton.store();
    expect((await store.getRun(baton.namespace, a.id))?.priority).toBe(3);
    expect((await store.getRun(baton.namespace, b.id))?.priority).toBe(1);
  });

  it('delay and runAt hold a run until its clock time; a runAt in the past runs at once', async () => {
    const task = baton.task({ name: 'timed' }, async (label: string) => label);
    await startWorker([task]);
    const t0 = clock.now();
    const delayed = await task.enqueue('delayed', { delay: '30s' });
    const atTime = await task.enqueue('at', { runAt: t0 + 45_000 });
    const past = await task.enqueue('past', { runAt: new Date(t0 - 60_000) });
    expect(await past.result({ timeout: '5s' })).toBe('past');
    expect((await delayed.state()).name).toBe('Scheduled');
    await clock.advance(29_999);
    expect((await delayed.state()).name).toBe('Scheduled');
    await clock.advance(1);
    expect(await delayed.result({ timeout: '5s' })).toBe('delayed');
    expect((await delayed.attempts())[0]?.startedAt.getTime()).toBe(t0 + 30_000);
    expect((await atTime.state()).name).toBe('Scheduled');
    await clock.advance('15s');
    expect(await atTime.result({ timeout: '5s' })).toBe('at');
    expect((await atTime.attempts())[0]?.startedAt.getTime()).toBe(t0 + 45_000);
    await expect(task.enqueue('both', { delay: '1s', runAt: t0 })).rejects.toBeInstanceOf(ValidationError);
  });

  it('baton.close() waits for a running attempt, then runs the lifespan cleanup', async () => {
    const events: string[] = [];
    const gate = deferred();
    const started = deferred();
    const task = baton.task({ name: 'in-flight' }, async () => {
      started.resolve();
      await gate.promise;
      events.push('task done');
      return 'done';
    });
    const worker = baton.worker({
      name: 'graceful',
      pollInterval: '20ms',
      shutdownTimeout: '10s',
      tasks: [task],
      lifespan: async function* () {
        yield 'resource';
        events.push('cleanup');
      },
    });
    await worker.start();
    const handle = await task.enqueue(undefined);
    await started.promise;
    let closed = false;
    const closing = baton.close().then(() => {
      closed = true;
    });
    await waitFor(() => !worker.isRunning, { message: 'the worker to begin stopping' });
    expect(closed).toBe(false);
    gate.resolve();
    await closing;
    expect(events).toEqual(['task done', 'cleanup']);
    const reader = fixture.baton({ clock });
    const state = await (await reader.runs.get(handle.id)).state();
    expect(state).toMatchObject({ name: 'Completed', output: 'done' });
  });

  it('baton.close() stops its workers', async () => {
    const task = baton.task({ name: 'closing' }, async () => 'done');
    const worker = await startWorker([task]);
    expect(await task.run(undefined)).toBe('done');
    expect(worker.isRunning).toBe(true);
    await baton.close();
    expect(worker.isRunning).toBe(false);
    expect(() => baton.worker({ tasks: [task] })).toThrow(/closed/);
    // Another instance on the same database sees no live worker for the task.
    const other = fixture.baton({ clock });
    const otherTask = other.task({ name: 'closing' }, async () => 'x');
    const handle = await otherTask.enqueue(undefined);
    const state = await handle.state();
    expect(state.name).toBe('Pending');
    expect(state.waitingOn?.reason).toBe('no-worker');
  });
});
