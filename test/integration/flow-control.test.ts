/**
 * Flow control (DESIGN.md §2.6) on both stores, with several workers on one
 * database: concurrency keys and their four strategies, rate limits, priority,
 * idempotency under racing enqueues, worker labels, sticky workflows, debounce,
 * `waitingOn` for held runs, and the bad-input errors. Every wait is bounded.
 */
import { type Baton, type TaskContext, ValidationError, type Worker } from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor, waitForState } from '../support/wait.js';

/** The most intervals open at once (ends sort before starts at the same instant). */
function maxOverlap(intervals: readonly [number, number][]): number {
  const edges = intervals.flatMap(([s, e]) => [
    [s, 1],
    [e, -1],
  ]) as [number, number][];
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) {
    open += d;
    most = Math.max(most, open);
  }
  return most;
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

describeEachStore('flow control', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;
  const workers: Worker[] = [];

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await fixture.cleanup();
  });

  async function startWorker(
    on: Baton,
    tasks: Parameters<Baton['worker']>[0]['tasks'],
    options: { name?: string; slots?: number; labels?: Record<string, string> } = {},
  ): Promise<Worker> {
    const worker = on.worker({
      name: options.name ?? 'w',
      slots: options.slots ?? 8,
      pollInterval: '20ms',
      shutdownTimeout: '1s',
      labels: options.labels ?? {},
      tasks,
    });
    await worker.start();
    workers.push(worker);
    return worker;
  }

  it('never runs more than max of a key at once across three workers, and uses the limit', async () => {
    const intervals = new Map<string, [number, number][]>();
    const define = (b: Baton) =>
      b.task(
        { name: 'limited', concurrency: { key: (input: { group: string }) => input.group, max: 2 } },
        async (input: { group: string; ms: number }) => {
          const start = performance.now();
          await new Promise((r) => setTimeout(r, input.ms));
          const list = intervals.get(input.group) ?? [];
          list.push([start, performance.now()]);
          intervals.set(input.group, list);
        },
      );
    const task = define(baton);
    const handles = await task.enqueueMany(
      Array.from({ length: 30 }, (_, i) => ({ input: { group: i % 3 === 0 ? 'a' : 'b', ms: 15 } })),
    );
    const groupOf = new Map(handles.map((h, i) => [h.id, i % 3 === 0 ? 'a' : 'b']));
    for (const name of ['w1', 'w2', 'w3']) {
      const b = fixture.baton();
      await startWorker(b, [define(b)], { name, slots: 4 });
    }
    let samples = 0;
    let worstSample = 0;
    await waitFor(
      async () => {
        const running = await baton.runs.list({ status: 'Running', task: 'limited', limit: 100 });
        const counts = new Map<string, number>();
        for (const run of running.items)
          counts.set(groupOf.get(run.id) ?? '?', (counts.get(groupOf.get(run.id) ?? '?') ?? 0) + 1);
        samples++;
        worstSample = Math.max(worstSample, ...counts.values(), 0);
        const states = await Promise.all(handles.map((h) => h.state()));
        return states.every((s) => s.name === 'Completed');
      },
      { timeout: 30_000, interval: 2, message: 'all limited runs completed' },
    );
    expect(worstSample).toBeLessThanOrEqual(2);
    expect(samples).toBeGreaterThan(3);
    const overlaps = [...intervals.values()].map(maxOverlap);
    expect(Math.max(...overlaps)).toBe(2);
    expect([...intervals.values()].flat()).toHaveLength(30);
  });

  it('a queued run behind a full key says which key in state.waitingOn', async () => {
    const gate = deferred<void>();
    const task = baton.task(
      { name: 'one-at-a-time', concurrency: { key: (input: { user: string }) => `user-${input.user}`, max: 1 } },
      async () => {
        await gate.promise;
      },
    );
    const first = await task.enqueue({ user: '7' });
    const second = await task.enqueue({ user: '7' });
    await startWorker(baton, [task]);
    await waitForState(first, 'Running');
    const state = await second.state();
    expect(state.name).toBe('Pending');
    expect(state.waitingOn).toMatchObject({ reason: 'concurrency', key: 'user-7', max: 1 });
    expect(state.waitingOn?.message).toContain('user-7');
    gate.resolve();
    await expect(second.result()).resolves.toBeUndefined();
  });

  it('several rules on one task all hold: one per user and two in all', async () => {
    const running = new Map<string, number>();
    let worstUser = 0;
    let worstTotal = 0;
    const task = baton.task(
      {
        name: 'two-rules',
        concurrency: [
          { key: (input: { user: string }) => input.user, max: 1 },
          { key: 'everyone', max: 2 },
        ],
      },
      async (input: { user: string }) => {
        running.set(input.user, (running.get(input.user) ?? 0) + 1);
        worstUser = Math.max(worstUser, ...running.values());
        worstTotal = Math.max(
          worstTotal,
          [...running.values()].reduce((a, b) => a + b, 0),
        );
        await new Promise((r) => setTimeout(r, 5));
        running.set(input.user, (running.get(input.user) ?? 1) - 1);
      },
    );
    const handles = await task.enqueueMany(Array.from({ length: 18 }, (_, i) => ({ input: { user: `u${i % 3}` } })));
    await startWorker(baton, [task], { slots: 8 });
    await Promise.all(handles.map((h) => h.result()));
    expect(worstUser).toBe(1);
    expect(worstTotal).toBe(2);
  });

  it('a durable run waiting durably frees its place for the next run of its key', async () => {
    const clock = new TestClock(new Date('2030-01-01T00:00:00.000Z'));
    const b = fixture.baton({ clock });
    const task = b.durableTask(
      { name: 'nightly-per-user', concurrency: { key: (input: { user: string; n: number }) => input.user, max: 1 } },
      async (input: { user: string; n: number }, ctx) => {
        if (input.n === 1) await ctx.sleepFor('1h');
        return input.n;
      },
    );
    await startWorker(b, [task]);
    const sleeper = await task.enqueue({ user: 'u', n: 1 });
    await waitForState(sleeper, 'Waiting');
    const next = await task.enqueue({ user: 'u', n: 2 });
    await expect(next.result()).resolves.toBe(2);
    await clock.advance('1h');
    await expect(sleeper.result()).resolves.toBe(1);
  });

  it('group-round-robin: a key with one run is not starved by a key with many', async () => {
    const order: string[] = [];
    const task = baton.task(
      {
        name: 'tenant-work',
        concurrency: { key: (input: { tenant: string }) => input.tenant, max: 2, strategy: 'group-round-robin' },
      },
      async (input: { tenant: string; n: number }) => {
        order.push(`${input.tenant}${input.n}`);
        await new Promise((r) => setTimeout(r, 2));
      },
    );
    await task.enqueueMany(Array.from({ length: 60 }, (_, n) => ({ input: { tenant: 'big', n } })));
    const small = await task.enqueue({ tenant: 'small', n: 0 });
    await startWorker(baton, [task], { slots: 2 });
    await small.result();
    await waitFor(async () => order.length === 61, { timeout: 30_000 });
    // Two slots: the small key's run takes one of the first two places.
    expect(order.indexOf('small0')).toBeLessThan(2);
    expect(order.filter((o) => o.startsWith('big'))).toEqual(Array.from({ length: 60 }, (_, n) => `big${n}`));
  });

  it('cancel-in-progress: a new run cancels the running one of its key', async () => {
    const task = baton.task(
      { name: 'latest-only', concurrency: { key: (input: { doc: string }) => input.doc, strategy: 'cancel-in-progress' } },
      async (input: { doc: string; v: number }, ctx: TaskContext) => {
        if (input.v === 1) await untilAborted(ctx.signal);
        return input.v;
      },
    );
    await startWorker(baton, [task]);
    const first = await task.enqueue({ doc: 'd', v: 1 });
    await waitForState(first, 'Running');
    const second = await task.enqueue({ doc: 'd', v: 2 });
    expect(second.outcome).toBe('created');
    await expect(second.result()).resolves.toBe(2);
    const ended = await waitForState(first, 'Cancelled');
    expect(ended.message ?? (await first.states()).at(-1)?.message).toContain('cancel-in-progress');
    const other = await task.enqueue({ doc: 'other', v: 3 });
    await expect(other.result()).resolves.toBe(3);
  });

  it('cancel-newest: an enqueue over the limit is rejected, Cancelled with the reason', async () => {
    const gate = deferred<void>();
    const task = baton.task(
      { name: 'single-flight', concurrency: { key: 'the-one', max: 1, strategy: 'cancel-newest' } },
      async () => {
        await gate.promise;
        return 'done';
      },
    );
    await startWorker(baton, [task]);
    const first = await task.enqueue(undefined);
    expect(first.outcome).toBe('created');
    const second = await task.enqueue(undefined);
    expect(second.outcome).toBe('rejected');
    const state = await second.state();
    expect(state.name).toBe('Cancelled');
    expect(state.message).toContain('cancel-newest');
    gate.resolve();
    await expect(first.result()).resolves.toBe('done');
    const third = await task.enqueue(undefined);
    expect(third.outcome).toBe('created');
    await expect(third.result()).resolves.toBe('done');
  });

  it('rate limits: at most limit starts in any window, and the held run says until when', async () => {
    const clock = new TestClock(new Date('2030-01-01T00:00:00.000Z'));
    const b = fixture.baton({ clock });
    const task = b.task({ name: 'call-api', rateLimits: [{ key: 'partner-api', limit: 2, per: '1m' }] }, async (n: number) => n);
    const handles = await task.enqueueMany([1, 2, 3, 4, 5].map((input) => ({ input })));
    await startWorker(b, [task]);
    await waitFor(
      async () => (await Promise.all(handles.map((h) => h.state()))).filter((s) => s.name === 'Completed').length === 2,
    );
    const held = await (handles[2] as (typeof handles)[number]).state();
    expect(held.waitingOn).toMatchObject({ reason: 'rate-limit', key: 'partner-api' });
    expect((held.waitingOn as { until: Date }).until.getTime()).toBe(clock.now() + 60_000);
    // Still two after time passes inside the window.
    await clock.advance('59s');
    expect((await Promise.all(handles.map((h) => h.state()))).filter((s) => s.name === 'Completed')).toHaveLength(2);
    await clock.advance('1s');
    await waitFor(
      async () => (await Promise.all(handles.map((h) => h.state()))).filter((s) => s.name === 'Completed').length === 4,
    );
    await clock.advance('1m');
    await waitFor(async () => (await Promise.all(handles.map((h) => h.state()))).every((s) => s.name === 'Completed'));
    const starts = await Promise.all(
      handles.map(async (h) => (await h.states()).find((s) => s.name === 'Running')?.timestamp.getTime() ?? 0),
    );
    starts.sort((x, y) => x - y);
    for (let i = 0; i + 2 < starts.length; i++)
      expect((starts[i + 2] as number) - (starts[i] as number)).toBeGreaterThanOrEqual(60_000);
  });

  it('rate-limit keys can come from the input and are shared by every task naming them', async () => {
    const clock = new TestClock(new Date('2030-01-01T00:00:00.000Z'));
    const b = fixture.baton({ clock });
    const perUser = [{ key: (input: { user: string }) => `user:${input.user}`, limit: 1, per: '1h' as const }];
    const a = b.task({ name: 'a', rateLimits: perUser }, async (input: { user: string }) => input.user);
    const c = b.task({ name: 'c', rateLimits: perUser }, async (input: { user: string }) => input.user);
    const first = await a.enqueue({ user: 'u1' });
    const sameUser = await c.enqueue({ user: 'u1' });
    const otherUser = await c.enqueue({ user: 'u2' });
    await startWorker(b, [a, c]);
    await expect(first.result()).resolves.toBe('u1');
    await expect(otherUser.result()).resolves.toBe('u2');
    expect((await sameUser.state()).waitingOn).toMatchObject({ reason: 'rate-limit', key: 'user:u1' });
    await clock.advance('1h');
    await expect(sameUser.result()).resolves.toBe('u1');
  });

  it('priority: higher first, FIFO within a priority, per-run override of the default', async () => {
    const order: string[] = [];
    const plain = baton.task({ name: 'prio', priority: 2 }, async (label: string) => {
      order.push(label);
    });
    const gated = baton.task({ name: 'prio-gated', priority: 2, concurrency: { key: 'all', max: 1 } }, async (label: string) => {
      order.push(label);
    });
    for (const task of [plain, gated]) {
      order.length = 0;
      await task.enqueue('default-1');
      await task.enqueue('low', { priority: 1 });
      await task.enqueue('high-1', { priority: 4 });
      await task.enqueue('default-2');
      await task.enqueue('high-2', { priority: 4 });
      const worker = await startWorker(baton, [task], { slots: 1 });
      await waitFor(() => order.length === 5);
      expect(order).toEqual(['high-1', 'high-2', 'default-1', 'default-2', 'low']);
      await worker.stop();
    }
  });

  it('50 racing enqueues with one idempotency key from three instances create one run', async () => {
    const instances = [baton, fixture.baton(), fixture.baton()];
    const tasks = instances.map((b) => b.task({ name: 'charge' }, async (n: number) => n));
    const handles = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (tasks[i % 3] as (typeof tasks)[number]).enqueue(42, { idempotencyKey: 'order-9' })),
    );
    expect(new Set(handles.map((h) => h.id)).size).toBe(1);
    expect(handles.filter((h) => h.outcome === 'created')).toHaveLength(1);
    expect(handles.filter((h) => h.outcome === 'deduplicated')).toHaveLength(49);
    expect((await baton.runs.list({ task: 'charge' })).items).toHaveLength(1);
  });

  it('labels: required labels route runs; a label no worker has is shown as the reason', async () => {
    const ranOn: string[] = [];
    const define = (b: Baton) => ({
      eu: b.task({ name: 'eu-only', desiredLabels: { region: 'eu' } }, async (_: number, ctx: TaskContext) => {
        ranOn.push(ctx.worker.name);
      }),
      gpu: b.task({ name: 'needs-gpu', desiredLabels: { gpu: 'a100' } }, async () => 'trained'),
    });
    const euBaton = fixture.baton();
    const usBaton = fixture.baton();
    const eu = define(euBaton);
    const us = define(usBaton);
    await startWorker(usBaton, [us.eu, us.gpu], { name: 'us-worker', labels: { region: 'us' } });
    await startWorker(euBaton, [eu.eu, eu.gpu], { name: 'eu-worker', labels: { region: 'eu' } });
    const local = define(baton);
    const handles = await local.eu.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ input: i })));
    await Promise.all(handles.map((h) => h.result()));
    expect(new Set(ranOn)).toEqual(new Set(['eu-worker']));
    const gpu = await local.gpu.enqueue(undefined);
    const state = await waitFor(async () => {
      const s = await gpu.state();
      return s.waitingOn ? s : undefined;
    });
    expect(state.name).toBe('Pending');
    expect(state.waitingOn).toMatchObject({ reason: 'labels', labels: { gpu: 'a100' } });
  });

  it('labels: a weighted preference goes to the preferred worker while it is live', async () => {
    const ranOn: string[] = [];
    const define = (b: Baton) =>
      b.task(
        { name: 'prefers-ssd', desiredLabels: { disk: { value: 'ssd', weight: 10 } } },
        async (_: number, ctx: TaskContext) => {
          ranOn.push(ctx.worker.name);
        },
      );
    const hdd = fixture.baton();
    const ssd = fixture.baton();
    await startWorker(hdd, [define(hdd)], { name: 'hdd-worker', labels: { disk: 'hdd' } });
    await startWorker(ssd, [define(ssd)], { name: 'ssd-worker', labels: { disk: 'ssd' } });
    const handles = await define(baton).enqueueMany(Array.from({ length: 8 }, (_, i) => ({ input: i })));
    await Promise.all(handles.map((h) => h.result()));
    expect(ranOn.filter((w) => w === 'ssd-worker')).toHaveLength(8);
  });

  it('sticky workflows: every task of a run runs on the worker that ran its first task', async () => {
    const ranOn = new Map<string, Set<string>>();
    const define = (b: Baton) => {
      const wf = b.workflow({ name: 'sticky-pipeline', sticky: 'hard' });
      const note = (ctx: TaskContext) => {
        const set = ranOn.get(ctx.workflowRunId) ?? new Set<string>();
        set.add(ctx.worker.name);
        ranOn.set(ctx.workflowRunId, set);
      };
      const one = wf.task({ name: 'one' }, async (_: unknown, ctx) => note(ctx));
      const two = wf.task({ name: 'two', parents: [one] }, async (_: unknown, ctx) => note(ctx));
      wf.task({ name: 'three', parents: [two] }, async (_: unknown, ctx) => note(ctx));
      return wf;
    };
    const b1 = fixture.baton();
    const b2 = fixture.baton();
    await startWorker(b1, [define(b1)], { name: 'worker-1', slots: 2 });
    await startWorker(b2, [define(b2)], { name: 'worker-2', slots: 2 });
    const handles = await define(baton).enqueueMany(Array.from({ length: 8 }, () => ({ input: undefined })));
    await Promise.all(handles.map((h) => h.result()));
    expect(ranOn.size).toBe(8);
    for (const workersOfRun of ranOn.values()) expect(workersOfRun.size).toBe(1);
  });

  it('workflow concurrency: runs of one key do not overlap from first task to last', async () => {
    const spans = new Map<string, [number, number]>();
    const wf = baton.workflow({
      name: 'per-account',
      concurrency: { key: (input: { account: string }) => input.account, max: 1 },
    });
    const mark = (ctx: TaskContext) => {
      const now = performance.now();
      const span = spans.get(ctx.workflowRunId) ?? [now, now];
      spans.set(ctx.workflowRunId, [Math.min(span[0], now), Math.max(span[1], now)]);
    };
    const first = wf.task({ name: 'debit' }, async (_: { account: string }, ctx) => {
      mark(ctx);
      await new Promise((r) => setTimeout(r, 5));
    });
    wf.task({ name: 'credit', parents: [first] }, async (_: { account: string }, ctx) => {
      await new Promise((r) => setTimeout(r, 5));
      mark(ctx);
    });
    const handles = await wf.enqueueMany(Array.from({ length: 4 }, () => ({ input: { account: 'acc-1' } })));
    await startWorker(baton, [wf], { slots: 8 });
    await Promise.all(handles.map((h) => h.result()));
    expect(spans.size).toBe(4);
    expect(maxOverlap([...spans.values()])).toBe(1);
  });

  it('runs started by an event carry the rules of a workflow defined in the process', async () => {
    const gate = deferred<void>();
    const wf = baton.workflow({
      name: 'on-order',
      on: { events: ['order:placed'] },
      concurrency: { key: (input: { customer: string }) => input.customer, max: 1 },
    });
    wf.task({ name: 'fulfil' }, async () => {
      await gate.promise;
    });
    await startWorker(baton, [wf]);
    await baton.events.push('order:placed', { customer: 'c-1' });
    await baton.events.push('order:placed', { customer: 'c-1' });
    const runs = await waitFor(async () => {
      const page = await baton.runs.list({ task: 'fulfil' });
      return page.items.length === 2 ? page.items : undefined;
    });
    const states = await waitFor(async () => {
      const all = await Promise.all(runs.map((r) => baton.runs.get(r.id).then((h) => h.state())));
      return all.some((st) => st.name === 'Running') ? all : undefined;
    });
    expect(states.map((st) => st.name).sort()).toEqual(['Pending', 'Running']);
    expect(states.find((st) => st.name === 'Pending')?.waitingOn).toMatchObject({ reason: 'concurrency', key: 'c-1' });
    gate.resolve();
  });

  it('debounce: a burst of 100 enqueues of one key yields one run with the last input', async () => {
    const clock = new TestClock(new Date('2030-01-01T00:00:00.000Z'));
    const b = fixture.baton({ clock });
    const seen: number[] = [];
    const task = b.task(
      { name: 'reindex', debounce: { key: (input: { doc: string }) => input.doc, period: '5s' } },
      async (input: { doc: string; v: number }) => {
        seen.push(input.v);
        return input.v;
      },
    );
    await startWorker(b, [task]);
    const handles = [];
    for (let v = 1; v <= 100; v++) {
      handles.push(await task.enqueue({ doc: 'readme', v }));
      if (v % 10 === 0) await clock.advance('1s');
    }
    const other = await task.enqueue({ doc: 'other', v: 0 });
    expect(new Set(handles.map((h) => h.id)).size).toBe(1);
    expect(handles[0]?.outcome).toBe('created');
    expect(handles.slice(1).every((h) => h.outcome === 'debounced')).toBe(true);
    expect(other.id).not.toBe(handles[0]?.id);
    expect((await handles[0]?.state())?.waitingOn?.reason).toBe('scheduled');
    await clock.advance('5s');
    await expect(handles[0]?.result()).resolves.toBe(100);
    await expect(other.result()).resolves.toBe(0);
    expect(seen.sort((x, y) => x - y)).toEqual([0, 100]);
    expect((await b.runs.list({ task: 'reindex' })).items).toHaveLength(2);
  });

  it('debounce maxWait: a burst that never pauses still runs by maxWait', async () => {
    const clock = new TestClock(new Date('2030-01-01T00:00:00.000Z'));
    const b = fixture.baton({ clock });
    const task = b.task(
      { name: 'sync', debounce: { key: 'k', period: '10s', maxWait: '30s' } },
      async (input: { v: number }) => input.v,
    );
    await startWorker(b, [task]);
    const first = await task.enqueue({ v: 0 });
    for (let v = 1; v <= 5; v++) {
      await clock.advance('5s');
      expect((await task.enqueue({ v })).id).toBe(first.id);
    }
    await clock.advance('5s');
    await expect(first.result()).resolves.toBe(5);
  });

  it('bad flow-control options throw at definition time, naming the key', () => {
    const bad: [object, string][] = [
      [{ concurrency: { key: 'k', max: 0 } }, 'concurrency.max'],
      [{ concurrency: { key: 'k', strategy: 'lifo' } }, 'concurrency.strategy'],
      [{ concurrency: [] }, 'concurrency'],
      [{ concurrency: { key: '' } }, 'concurrency.key'],
      [{ concurrency: { key: 'k', limit: 2 } }, 'concurrency.limit'],
      [{ rateLimits: [{ key: 'k', limit: 1, per: 0 }] }, 'rateLimits[0].per'],
      [{ rateLimits: [{ key: 'k', limit: 0, per: '1s' }] }, 'rateLimits[0].limit'],
      [{ rateLimits: { key: 'k' } }, 'rateLimits'],
      [{ desiredLabels: { region: { weight: 2 } } }, 'desiredLabels.region.value'],
      [{ debounce: { key: 'k', period: '0s' } }, 'debounce.period'],
    ];
    for (const [options, path] of bad) {
      let error: unknown;
      try {
        baton.task({ name: 'bad', ...options }, async () => undefined);
      } catch (e) {
        error = e;
      }
      expect(error, path).toBeInstanceOf(ValidationError);
      expect((error as Error).message, path).toContain(path);
    }
    const wf = baton.workflow({ name: 'wf-bad' });
    expect(() => wf.task({ name: 't', debounce: { key: 'k', period: '1s' } }, async () => undefined)).toThrow(/debounce/);
    expect(() => baton.workflow({ name: 'wf-sticky', sticky: 'always' as 'hard' })).toThrow(/sticky/);
  });

  it('a key function that throws or returns no string fails the enqueue clearly and writes nothing', async () => {
    const throws = baton.task(
      {
        name: 'key-throws',
        concurrency: {
          key: (input: { user?: { id: string } }) => (input.user as { id: string }).id,
        },
      },
      async () => undefined,
    );
    const empty = baton.task({ name: 'key-empty', rateLimits: [{ key: () => '', limit: 1, per: '1s' }] }, async () => undefined);
    await expect(throws.enqueue({})).rejects.toThrow(ValidationError);
    await expect(throws.enqueue({})).rejects.toThrow(/key-throws: concurrency\[0\]\.key threw/);
    await expect(empty.enqueue(undefined)).rejects.toThrow(/rateLimits\[0\]\.key must return a string/);
    await expect(throws.enqueueMany([{ input: { user: { id: 'ok' } } }, { input: {} }])).rejects.toThrow(ValidationError);
    expect((await baton.runs.list({})).items).toHaveLength(0);
  });
});
