/**
 * Retries, retry delays, timeouts, schedule timeouts, hooks and `waitingOn`
 * (DESIGN.md §2.1, §2.7, §2.12), driven by a TestClock — on both stores.
 */
import {
  type Baton,
  NonRetryableError,
  type RunHandle,
  type TaskContext,
  type TaskOptions,
  TaskRunTimeoutError,
  type Worker,
} from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor, waitForState } from '../support/wait.js';

describeEachStore('retries, timeouts and hooks', (backend: BackendName) => {
  let fixture: StoreFixture;
  let clock: TestClock;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    clock = new TestClock(new Date('2030-01-01T00:00:00.000Z'));
    baton = fixture.baton({ clock, sweepInterval: '1s' });
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function startWorker(tasks: Parameters<Baton['worker']>[0]['tasks']): Promise<Worker> {
    const worker = baton.worker({ name: 'w', slots: 10, pollInterval: '20ms', shutdownTimeout: '2s', tasks });
    await worker.start();
    return worker;
  }

  async function attemptCount(handle: RunHandle): Promise<number> {
    return (await handle.attempts()).length;
  }

  /**
   * Drives an always-failing run through its retries: after each failure the run
   * waits AwaitingRetry until exactly failure time + the expected delay, and the
   * next attempt starts at that clock time. Returns the delays actually used.
   */
  async function expectRetrySchedule(
    options: Pick<TaskOptions<null, never>, 'retryDelay' | 'backoff' | 'maxRetryDelay' | 'retryJitter'>,
    check: (retryIndex: number, delayMs: number) => void,
    retries: number,
  ): Promise<number[]> {
    const task = baton.task({ name: 'always-fails', ...options, retries }, async (_: null, ctx) => {
      throw new Error(String(ctx.attempt * 10));
    });
    await startWorker([task]);
    const handle = await task.enqueue(null);
    const delays: number[] = [];
    for (let retry = 0; retry < retries; retry++) {
      const state = await waitForState(handle, 'AwaitingRetry');
      const failedAt = clock.now();
      expect(state.type).toBe('SCHEDULED');
      expect(state.waitingOn?.reason).toBe('retry-delay');
      const until = state.waitingOn && 'until' in state.waitingOn ? state.waitingOn.until : undefined;
      expect(until).toBeInstanceOf(Date);
      const delay = (until as Date).getTime() - failedAt;
      check(retry, delay);
      delays.push(delay);
      if (delay > 1) {
        await clock.advance(delay - 1);
        expect((await handle.state()).name).toBe('AwaitingRetry');
        expect(await attemptCount(handle)).toBe(retry + 1);
        await clock.advance(1);
      } else {
        await clock.advance(delay);
      }
      await waitFor(async () => (await attemptCount(handle)) === retry + 2, { message: `attempt ${retry + 1} to start` });
      const attempts = await handle.attempts();
      expect(attempts[retry + 1]?.attempt).toBe(retry + 1);
      expect(attempts[retry + 1]?.startedAt.getTime()).toBe(failedAt + delay);
    }
    const final = await waitForState(handle, 'Failed');
    expect(final.type).toBe('FAILED');
    expect(final.error?.message).toBe(String(retries * 10));
    expect(await attemptCount(handle)).toBe(retries + 1);
    return delays;
  }

  it('numeric retryDelay with backoff: 1s, 2s, 4s', async () => {
    const expected = [1_000, 2_000, 4_000];
    await expectRetrySchedule({ retryDelay: 1_000, backoff: 2 }, (i, d) => expect(d).toBe(expected[i]), 3);
  });

  it('duration-string retryDelay with backoff 1 keeps the delay constant', async () => {
    await expectRetrySchedule({ retryDelay: '3s', backoff: 1 }, (_, d) => expect(d).toBe(3_000), 2);
  });

  it('per-retry array of delays; the last one repeats', async () => {
    const expected = [1_000, 2_500, 5_000, 5_000];
    await expectRetrySchedule({ retryDelay: ['1s', 2_500, '5s'] }, (i, d) => expect(d).toBe(expected[i]), 4);
  });

  it('a function of (attempt, error) gives each delay', async () => {
    const calls: [number, string][] = [];
    const expected = [1_000, 2_010, 3_020];
    await expectRetrySchedule(
      {
        retryDelay: (attempt, error) => {
          calls.push([attempt, error.message]);
          return (attempt + 1) * 1_000 + Number(error.message);
        },
      },
      (i, d) => expect(d).toBe(expected[i]),
      3,
    );
    expect(calls).toEqual([
      [0, '0'],
      [1, '10'],
      [2, '20'],
    ]);
  });

  it('maxRetryDelay caps a growing delay', async () => {
    const expected = [1_000, 5_000, 5_000];
    await expectRetrySchedule({ retryDelay: '1s', backoff: 10, maxRetryDelay: '5s' }, (i, d) => expect(d).toBe(expected[i]), 3);
  });

  it('retryJitter spreads each delay within ±jitter of itself', async () => {
    const delays = await expectRetrySchedule(
      { retryDelay: '2s', backoff: 1, retryJitter: 0.5 },
      (_, d) => {
        expect(d).toBeGreaterThanOrEqual(1_000);
        expect(d).toBeLessThanOrEqual(3_000);
      },
      5,
    );
    expect(delays).toHaveLength(5);
  });

  it('retryIf returning false stops retries and receives the error and the context', async () => {
    const asked: { message: string; attempt: number }[] = [];
    let runs = 0;
    const task = baton.task(
      {
        name: 'picky',
        retries: 5,
        retryDelay: '1s',
        retryIf: (error: Error, ctx: TaskContext<null>) => {
          asked.push({ message: error.message, attempt: ctx.attempt });
          return !error.message.startsWith('fatal');
        },
      },
      async (_: null, ctx) => {
        runs++;
        throw new Error(ctx.attempt === 0 ? 'transient' : 'fatal: give up');
      },
    );
    await startWorker([task]);
    const handle = await task.enqueue(null);
    await waitForState(handle, 'AwaitingRetry');
    await clock.advance('1s');
    const final = await waitForState(handle, 'Failed');
    expect(final.error?.message).toBe('fatal: give up');
    expect(runs).toBe(2);
    expect(asked).toEqual([
      { message: 'transient', attempt: 0 },
      { message: 'fatal: give up', attempt: 1 },
    ]);
    expect((await handle.states()).map((s) => s.name)).not.toContain('TimedOut');
  });

  it('NonRetryableError fails the run at once, with retries left', async () => {
    let runs = 0;
    const task = baton.task({ name: 'hopeless', retries: 5, retryDelay: 0 }, async () => {
      runs++;
      throw new NonRetryableError('no point retrying');
    });
    await startWorker([task]);
    const handle = await task.enqueue(undefined);
    const final = await waitForState(handle, 'Failed');
    expect(final.error).toMatchObject({ name: 'NonRetryableError', message: 'no point retrying', code: 'BATON_NON_RETRYABLE' });
    expect(runs).toBe(1);
    expect(await attemptCount(handle)).toBe(1);
    expect((await handle.states()).map((s) => s.name)).not.toContain('AwaitingRetry');
  });

  it('a timeout aborts ctx.signal with TaskRunTimeoutError and ends TimedOut once retries are used up', async () => {
    const reasons: unknown[] = [];
    let started = 0;
    const task = baton.task({ name: 'slow', timeout: '10s', retries: 1, retryDelay: '1s' }, async (_: null, ctx) => {
      started++;
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      reasons.push(ctx.signal.reason);
      throw ctx.signal.reason;
    });
    await startWorker([task]);
    const handle = await task.enqueue(null);
    await waitFor(() => started === 1, { message: 'attempt 0 to start' });
    const t0 = clock.now();
    await clock.advance(9_999);
    expect(reasons).toHaveLength(0);
    expect((await handle.state()).name).toBe('Running');
    await clock.advance(1);
    await waitFor(() => reasons.length === 1, { message: 'attempt 0 signal to abort' });
    const retrying = await waitForState(handle, 'AwaitingRetry');
    expect(retrying.waitingOn?.reason).toBe('retry-delay');
    await clock.advance('1s');
    await waitFor(() => started === 2, { message: 'attempt 1 to start' });
    await clock.advance('10s');
    const final = await waitForState(handle, 'TimedOut');
    expect(final.type).toBe('FAILED');
    expect(final.error?.name).toBe('TaskRunTimeoutError');
    expect(reasons).toHaveLength(2);
    for (const reason of reasons) expect(reason).toBeInstanceOf(TaskRunTimeoutError);
    const attempts = await handle.attempts();
    expect(attempts.map((a) => a.startedAt.getTime())).toEqual([t0, t0 + 11_000]);
    await expect(handle.result({ timeout: '1s' })).rejects.toMatchObject({ name: 'RunFailedError', stateName: 'TimedOut' });
  });

  it('a timed-out attempt that ignores its signal is abandoned; its late return changes nothing', async () => {
    const release = deferred();
    const started = deferred();
    const failures: string[] = [];
    const task = baton.task(
      {
        name: 'ignores-timeout',
        timeout: '2s',
        hooks: { onFailure: (_ctx: TaskContext<null>, error: Error) => failures.push(error.name) },
      },
      async () => {
        started.resolve();
        await release.promise;
        return 'too late';
      },
    );
    const other = baton.task({ name: 'other' }, async () => 'other ran');
    const worker = baton.worker({
      name: 'one-slot',
      slots: 1,
      pollInterval: '20ms',
      shutdownTimeout: '1s',
      tasks: [task, other],
    });
    await worker.start();
    const handle = await task.enqueue(null);
    await started.promise;
    await clock.advance('2s');
    const final = await waitForState(handle, 'TimedOut');
    expect(final.error?.name).toBe('TaskRunTimeoutError');
    // The slot was freed at the timeout, though the handler is still pending.
    expect(await (await other.enqueue(undefined)).result({ timeout: '5s' })).toBe('other ran');
    release.resolve();
    expect(await (await other.enqueue(undefined)).result({ timeout: '5s' })).toBe('other ran');
    expect((await handle.state()).name).toBe('TimedOut');
    expect(failures).toEqual(['TaskRunTimeoutError']);
  });

  it('refreshTimeout lets a long attempt finish', async () => {
    const deadlines: (number | undefined)[] = [];
    let sleeping = 0;
    const task = baton.task({ name: 'long', timeout: '10s' }, async (_: null, ctx) => {
      deadlines.push(ctx.deadline?.getTime());
      sleeping = 1;
      await clock.sleep('8s');
      ctx.refreshTimeout('10s');
      deadlines.push(ctx.deadline?.getTime());
      // never earlier than it already is
      ctx.refreshTimeout('1s');
      deadlines.push(ctx.deadline?.getTime());
      sleeping = 2;
      await clock.sleep('8s');
      return 'finished';
    });
    await startWorker([task]);
    const handle = await task.enqueue(null);
    await waitFor(() => sleeping === 1, { message: 'the task to start sleeping' });
    const t0 = clock.now();
    await clock.advance('8s');
    await waitFor(() => sleeping === 2, { message: 'the task to refresh its timeout' });
    await clock.advance('8s');
    expect(await handle.result({ timeout: '5s' })).toBe('finished');
    expect(deadlines).toEqual([t0 + 10_000, t0 + 18_000, t0 + 18_000]);
  });

  it('scheduleTimeout with no worker ends TimedOut, and a worker started later never runs it', async () => {
    let runs = 0;
    const task = baton.task({ name: 'unclaimed', scheduleTimeout: '5s' }, async (n: number) => {
      runs++;
      return n;
    });
    const handle = await task.enqueue(1);
    const waiting = await handle.state();
    expect(waiting.name).toBe('Pending');
    expect(waiting.waitingOn).toMatchObject({ reason: 'no-worker', task: 'unclaimed' });
    await clock.advance(4_999);
    await baton.sweep();
    expect((await handle.state()).name).toBe('Pending');
    await clock.advance(2);
    await baton.sweep();
    const final = await handle.state();
    expect(final.name).toBe('TimedOut');
    expect(final.type).toBe('FAILED');
    expect(final.waitingOn).toBeUndefined();
    await startWorker([task]);
    // A fresh run is claimed and finished, so the worker has looked at the queue.
    expect(await (await task.enqueue(2)).result({ timeout: '5s' })).toBe(2);
    expect(runs).toBe(1);
    expect((await handle.state()).name).toBe('TimedOut');
    await expect(handle.result({ timeout: '1s' })).rejects.toMatchObject({ stateName: 'TimedOut' });
  });

  it('scheduleTimeout of a delayed run counts from its start time, not from the enqueue', async () => {
    const task = baton.task({ name: 'delayed-unclaimed', scheduleTimeout: '5s' }, async () => 'ran');
    const handle = await task.enqueue(undefined, { delay: '10s' });
    await clock.advance(14_000);
    await baton.sweep();
    expect(['Scheduled', 'Pending']).toContain((await handle.state()).name);
    await clock.advance(1_001);
    await baton.sweep();
    expect((await handle.state()).name).toBe('TimedOut');
  });

  it('at exactly its scheduleTimeout a run is timed out by the sweep (claims already refuse it then)', async () => {
    const task = baton.task({ name: 'edge', scheduleTimeout: '5s' }, async () => 'ran');
    const handle = await task.enqueue(undefined);
    await clock.advance('5s');
    await baton.sweep();
    // The claim query treats the deadline as passed at this instant; the sweep must agree, or the run sits in limbo.
    expect((await handle.state()).name).toBe('TimedOut');
  });

  it('calls onRunning, onRetry and onFailure with the right arguments', async () => {
    const calls: unknown[][] = [];
    const task = baton.task(
      {
        name: 'hooked-fail',
        retries: 1,
        retryDelay: 500,
        hooks: {
          onRunning: (ctx: TaskContext<null>) => calls.push(['onRunning', ctx.taskRunId, ctx.attempt]),
          onRetry: (ctx: TaskContext<null>, error: Error, retry: { attempt: number; delayMs: number }) =>
            calls.push(['onRetry', ctx.taskRunId, ctx.attempt, error.message, retry]),
          onFailure: (ctx: TaskContext<null>, error: Error) =>
            calls.push(['onFailure', ctx.taskRunId, ctx.attempt, error.message]),
          onCompletion: (ctx: TaskContext<null>) => calls.push(['onCompletion', ctx.taskRunId]),
        },
      },
      async (_: null, ctx) => {
        throw new Error(`boom ${ctx.attempt}`);
      },
    );
    await startWorker([task]);
    const handle = await task.enqueue(null);
    await waitForState(handle, 'AwaitingRetry');
    await clock.advance(500);
    await waitForState(handle, 'Failed');
    await waitFor(() => calls.length === 4, { message: 'four hook calls' });
    expect(calls).toEqual([
      ['onRunning', handle.id, 0],
      ['onRetry', handle.id, 0, 'boom 0', { attempt: 1, delayMs: 500 }],
      ['onRunning', handle.id, 1],
      ['onFailure', handle.id, 1, 'boom 1'],
    ]);
  });

  it('calls onCompletion with the output', async () => {
    const calls: unknown[][] = [];
    const task = baton.task(
      {
        name: 'hooked-ok',
        hooks: {
          onRunning: (ctx: TaskContext<{ a: number }>) => calls.push(['onRunning', ctx.input]),
          onCompletion: (ctx: TaskContext<{ a: number }>, output: { doubled: number }) =>
            calls.push(['onCompletion', ctx.taskRunId, output]),
          onFailure: () => calls.push(['onFailure']),
        },
      },
      async (input: { a: number }) => ({ doubled: input.a * 2 }),
    );
    await startWorker([task]);
    const handle = await task.enqueue({ a: 21 });
    expect(await handle.result({ timeout: '5s' })).toEqual({ doubled: 42 });
    await waitFor(() => calls.length === 2, { message: 'two hook calls' });
    expect(calls).toEqual([
      ['onRunning', { a: 21 }],
      ['onCompletion', handle.id, { doubled: 42 }],
    ]);
  });

  it('waitingOn says scheduled for a delayed run, until its time', async () => {
    const task = baton.task({ name: 'later' }, async (n: number) => n);
    await startWorker([task]);
    const t0 = clock.now();
    const delayed = await task.enqueue(1, { delay: '1m' });
    const at = await task.enqueue(2, { runAt: new Date(t0 + 120_000) });
    for (const [handle, until] of [
      [delayed, t0 + 60_000],
      [at, t0 + 120_000],
    ] as const) {
      const state = await handle.state();
      expect(state.name).toBe('Scheduled');
      expect(state.type).toBe('SCHEDULED');
      expect(state.waitingOn).toMatchObject({ reason: 'scheduled', until: new Date(until) });
    }
    await clock.advance('1m');
    expect(await delayed.result({ timeout: '5s' })).toBe(1);
    expect((await at.state()).name).toBe('Scheduled');
    await clock.advance('1m');
    expect(await at.result({ timeout: '5s' })).toBe(2);
    expect((await delayed.attempts())[0]?.startedAt.getTime()).toBe(t0 + 60_000);
    expect((await at.attempts())[0]?.startedAt.getTime()).toBe(t0 + 120_000);
  });

  it('waitingOn says no-worker when no live worker serves the task', async () => {
    const served = baton.task({ name: 'served' }, async () => 'ok');
    const orphan = baton.task({ name: 'orphan' }, async () => 'never');
    const worker = await startWorker([served]);
    const handle = await orphan.enqueue(undefined);
    const state = await handle.state();
    expect(state.name).toBe('Pending');
    expect(state.waitingOn).toMatchObject({ reason: 'no-worker', task: 'orphan' });
    expect(state.waitingOn?.message).toContain('orphan');
    // A served run does not say no-worker while queued.
    await worker.stop();
    const queued = await served.enqueue(undefined);
    expect((await queued.state()).waitingOn?.reason).toBe('no-worker');
    await startWorker([served]);
    expect(await queued.result({ timeout: '5s' })).toBe('ok');
  });
});
