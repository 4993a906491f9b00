/**
 * Cancellation (queued, cooperative, uncooperative, from inside, of a parent's
 * children), manual retry and replay, and how `result()` reports failure
 * (DESIGN.md §2.1, §2.2, §2.12) — on both stores.
 */
import {
  type Baton,
  type Cancellation,
  CancelledError,
  InvalidStateError,
  RunFailedError,
  type TaskContext,
  type Trigger,
  type Worker,
} from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor, waitForState } from '../support/wait.js';

/** Resolves when the signal aborts. */
function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}

describeEachStore('cancellation, retry and replay', (backend: BackendName) => {
  let fixture: StoreFixture;
  let clock: TestClock;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    clock = new TestClock(new Date('2030-01-01T00:00:00.000Z'));
    baton = fixture.baton({ clock });
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function startWorker(tasks: Parameters<Baton['worker']>[0]['tasks'], slots = 10): Promise<Worker> {
    const worker = baton.worker({ name: 'w', slots, pollInterval: '20ms', shutdownTimeout: '200ms', tasks });
    await worker.start();
    return worker;
  }

  it('a queued run ends Cancelled at once and never runs', async () => {
    let runs = 0;
    const task = baton.task({ name: 'queued' }, async (n: number) => {
      runs++;
      return n;
    });
    const handle = await task.enqueue(1);
    await handle.cancel('not needed');
    const state = await handle.state();
    expect(state.name).toBe('Cancelled');
    expect(state.type).toBe('CANCELLED');
    await startWorker([task]);
    expect(await (await task.enqueue(2)).result({ timeout: '5s' })).toBe(2);
    expect(runs).toBe(1);
    expect((await handle.state()).name).toBe('Cancelled');
    expect((await handle.states()).map((s) => s.name)).toEqual(['Pending', 'Cancelled']);
    expect(await handle.attempts()).toEqual([]);
  });

  it('a cooperative running run sees its signal abort with CancelledError and ends Cancelled', async () => {
    const started = deferred();
    const seen: { reason?: unknown; cancellation?: Cancellation; cancelled?: boolean; done?: boolean } = {};
    const hookCalls: unknown[][] = [];
    const task = baton.task(
      {
        name: 'cooperative',
        cancelGracePeriod: '30s',
        hooks: { onCancellation: (ctx: TaskContext<null>, reason: string) => hookCalls.push([ctx.taskRunId, reason]) },
      },
      async (_: null, ctx) => {
        started.resolve();
        seen.reason = await aborted(ctx.signal);
        seen.cancellation = ctx.cancellation;
        seen.cancelled = ctx.cancelled;
        seen.done = ctx.done();
        throw ctx.signal.reason;
      },
    );
    await startWorker([task]);
    const handle = await task.enqueue(null);
    await started.promise;
    const requestedAt = clock.now();
    await handle.cancel('user asked');
    const final = await waitForState(handle, 'Cancelled');
    expect(final.type).toBe('CANCELLED');
    expect(seen.reason).toBeInstanceOf(CancelledError);
    expect((seen.reason as CancelledError).reason).toBe('user asked');
    expect(seen.cancellation).toEqual({
      reason: 'user asked',
      requestedAt: new Date(requestedAt),
      deadline: new Date(requestedAt + 30_000),
    });
    expect(seen.cancelled).toBe(true);
    expect(seen.done).toBe(true);
    await waitFor(() => hookCalls.length === 1, { message: 'onCancellation to be called' });
    expect(hookCalls).toEqual([[handle.id, 'user asked']]);
    const names = (await handle.states()).map((s) => s.name);
    expect(names[names.length - 1]).toBe('Cancelled');
    const error = await handle.result({ timeout: '1s' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunFailedError);
    expect((error as RunFailedError).stateName).toBe('Cancelled');
  });

  it('an uncooperative run is abandoned after cancelGracePeriod and its slot goes to the next run', async () => {
    const started = deferred();
    const release = deferred();
    let sawAbort = false;
    const task = baton.task({ name: 'stubborn', cancelGracePeriod: '5s' }, async (_: null, ctx) => {
      ctx.signal.addEventListener('abort', () => {
        sawAbort = true;
      });
      started.resolve();
      await release.promise; // ignores the signal until the test lets it go
      return 'finished late';
    });
    const next = baton.task({ name: 'next' }, async () => 'next ran');
    await startWorker([task, next], 1);
    const handle = await task.enqueue(null);
    await started.promise;
    const waiting = await next.enqueue(undefined);
    await handle.cancel('stop it');
    await waitFor(() => sawAbort, { message: 'the stubborn run to see its signal abort' });
    const requestedAt = clock.now();
    const cancelling = await handle.state();
    expect(cancelling.name).toBe('Cancelling');
    expect(cancelling.type).toBe('CANCELLING');
    expect(cancelling.waitingOn).toMatchObject({ reason: 'cancellation', deadline: new Date(requestedAt + 5_000) });
    await clock.advance(4_999);
    expect((await handle.state()).name).toBe('Cancelling');
    expect((await waiting.state()).name).toBe('Pending');
    await clock.advance(1);
    const final = await waitForState(handle, 'Cancelled');
    expect(final.message).toContain('abandoned');
    expect(await waiting.result({ timeout: '5s' })).toBe('next ran');
    // The abandoned handler finishing later changes nothing.
    release.resolve();
    const other = await next.enqueue(undefined);
    expect(await other.result({ timeout: '5s' })).toBe('next ran');
    expect((await handle.state()).name).toBe('Cancelled');
    expect((await handle.states()).map((s) => s.name)).toEqual(['Pending', 'Running', 'Cancelling', 'Cancelled']);
    await expect(handle.result({ timeout: '1s' })).rejects.toMatchObject({ stateName: 'Cancelled' });
  });

  it('a run waiting for its retry delay is cancelled at once and never retried', async () => {
    let runs = 0;
    const task = baton.task({ name: 'cancel-in-delay', retries: 3, retryDelay: '1m' }, async () => {
      runs++;
      throw new Error('fails');
    });
    await startWorker([task]);
    const handle = await task.enqueue(undefined);
    await waitForState(handle, 'AwaitingRetry');
    await handle.cancel();
    const state = await handle.state();
    expect(state.name).toBe('Cancelled');
    expect(state.message).toBe('cancelled');
    await clock.advance('5m');
    const other = await task.enqueue(undefined);
    await waitForState(other, 'AwaitingRetry');
    expect(runs).toBe(2);
    expect((await handle.state()).name).toBe('Cancelled');
  });

  it('ctx.cancel(reason) from inside cancels the run', async () => {
    const seen: { cancelled?: boolean; aborted?: boolean; reason?: string } = {};
    const task = baton.task({ name: 'self-cancel' }, async (_: null, ctx) => {
      await ctx.cancel('changed my mind');
      seen.cancelled = ctx.cancelled;
      seen.aborted = ctx.signal.aborted;
      seen.reason = ctx.cancellation?.reason;
      return 'ignored output';
    });
    await startWorker([task]);
    const handle = await task.enqueue(null);
    const error = await handle.result({ timeout: '5s' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunFailedError);
    expect((error as RunFailedError).stateName).toBe('Cancelled');
    expect(seen).toEqual({ cancelled: true, aborted: true, reason: 'changed my mind' });
    const state = await handle.state();
    expect(state.name).toBe('Cancelled');
    expect(state.message).toContain('changed my mind');
  });

  it('cancelling a parent cancels its running and queued children', async () => {
    const childStarted = deferred();
    const childAbort: unknown[] = [];
    const runningChild = baton.task({ name: 'running-child' }, async (_: null, ctx) => {
      grandchildIds.push((await unservedChild.enqueue(undefined)).id);
      childStarted.resolve();
      childAbort.push(await aborted(ctx.signal));
      throw ctx.signal.reason;
    });
    const unservedChild = baton.task({ name: 'queued-child' }, async () => 'never');
    const grandchildIds: string[] = [];
    const ids: { running?: string; queued?: string } = {};
    const parentReady = deferred();
    const parent = baton.task({ name: 'parent' }, async (_: null, ctx) => {
      ids.running = (await runningChild.enqueue(null)).id;
      ids.queued = (await unservedChild.enqueue(undefined)).id;
      parentReady.resolve();
      await aborted(ctx.signal);
      throw ctx.signal.reason;
    });
    await startWorker([parent, runningChild]);
    const handle = await parent.enqueue(null);
    await parentReady.promise;
    await childStarted.promise;
    await handle.cancel('parent cancelled');
    await waitForState(handle, 'Cancelled');
    const running = await baton.runs.get(ids.running ?? '');
    const queued = await baton.runs.get(ids.queued ?? '');
    await waitForState(running, 'Cancelled');
    expect((await queued.state()).name).toBe('Cancelled');
    expect(grandchildIds).toHaveLength(1);
    expect((await (await baton.runs.get(grandchildIds[0] ?? '')).state()).name).toBe('Cancelled');
    expect(childAbort).toHaveLength(1);
    expect(childAbort[0]).toBeInstanceOf(CancelledError);
  });

  it('handle.retry() gives a failed run a new attempt that can complete', async () => {
    let shouldFail = true;
    const attempts: number[] = [];
    const task = baton.task({ name: 'fixable' }, async (n: number, ctx) => {
      attempts.push(ctx.attempt);
      if (shouldFail) throw new Error('bug');
      return n * 2;
    });
    await startWorker([task]);
    const handle = await task.enqueue(21);
    const error = await handle.result({ timeout: '5s' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunFailedError);
    expect((error as RunFailedError).stateName).toBe('Failed');
    expect((error as RunFailedError).runId).toBe(handle.id);
    expect((error as RunFailedError).failure?.message).toBe('bug');
    shouldFail = false;
    const again = await handle.retry();
    expect(again.id).toBe(handle.id);
    expect(await handle.result({ timeout: '5s' })).toBe(42);
    expect(attempts).toHaveLength(2);
    expect(attempts[1]).toBeGreaterThan(attempts[0] ?? 0);
    const runAttempts = await handle.attempts();
    expect(runAttempts).toHaveLength(2);
    const names = (await handle.states()).map((s) => s.name);
    expect(names.indexOf('Failed')).toBeGreaterThan(-1);
    expect(names[names.length - 1]).toBe('Completed');
    expect(names.slice(names.indexOf('Failed') + 1, names.indexOf('Failed') + 2)).toEqual(['Pending']);
  });

  it('handle.retry() gives a cancelled run a new attempt', async () => {
    let runs = 0;
    const task = baton.task({ name: 'revived' }, async () => {
      runs++;
      return 'revived';
    });
    const handle = await task.enqueue(undefined);
    await handle.cancel();
    expect((await handle.state()).name).toBe('Cancelled');
    await startWorker([task]);
    await handle.retry();
    expect(await handle.result({ timeout: '5s' })).toBe('revived');
    expect(runs).toBe(1);
  });

  it('handle.retry() of a completed run is refused and changes nothing', async () => {
    const task = baton.task({ name: 'finished' }, async () => 'done');
    await startWorker([task]);
    const handle = await task.enqueue(undefined);
    expect(await handle.result({ timeout: '5s' })).toBe('done');
    const error = await handle.retry().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidStateError);
    expect((await handle.state()).name).toBe('Completed');
    expect(await handle.attempts()).toHaveLength(1);
  });

  it('handle.replay() makes a new run with the same input, tags and a replay trigger', async () => {
    const triggers: Trigger[] = [];
    const task = baton.task({ name: 'replayable' }, async (input: { v: string }, ctx) => {
      triggers.push(ctx.trigger);
      return `${input.v}:${ctx.tags.k}`;
    });
    await startWorker([task]);
    const source = await task.enqueue({ v: 'x' }, { tags: { k: 'tag' } });
    expect(await source.result({ timeout: '5s' })).toBe('x:tag');
    const replay = await source.replay();
    expect(replay.id).not.toBe(source.id);
    expect(replay.outcome).toBe('created');
    expect(await replay.result({ timeout: '5s' })).toBe('x:tag');
    expect(triggers).toEqual([{ kind: 'manual' }, { kind: 'replay', sourceRunId: source.id }]);
    expect((await source.state()).name).toBe('Completed');
  });

  it('result() rejects with RunFailedError carrying the state name and the failure', async () => {
    const task = baton.task({ name: 'broken' }, async () => {
      throw new TypeError('bad thing');
    });
    await startWorker([task]);
    const handle = await task.enqueue(undefined);
    const error = await handle.result({ timeout: '5s' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunFailedError);
    expect(error).toMatchObject({ name: 'RunFailedError', code: 'BATON_RUN_FAILED', stateName: 'Failed', runId: handle.id });
    expect((error as RunFailedError).failure).toMatchObject({ name: 'TypeError', message: 'bad thing' });
    expect((error as RunFailedError).message).toContain('bad thing');
    await expect(task.run(undefined)).rejects.toBeInstanceOf(RunFailedError);
  });
});
