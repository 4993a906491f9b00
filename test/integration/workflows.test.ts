/**
 * DAG workflows (DESIGN.md §2.4, issue 4) and child runs, on both stores:
 * diamond outputs, fan-out and fan-in without levels, skipIf, failure and the
 * on-failure task, version ids, definition errors, 1,000 children.
 */
import { type Baton, getTaskContext, RunFailedError, ValidationError, type Worker } from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor } from '../support/wait.js';

describeEachStore('workflows', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  async function start(...items: Parameters<Baton['worker']>[0]['tasks']): Promise<Worker> {
    const worker = baton.worker({ name: 'w', slots: 20, pollInterval: '20ms', tasks: items });
    await worker.start();
    return worker;
  }

  it('runs a diamond: d sees b and c, which both see a; the run returns every output', async () => {
    const wf = baton.workflow<{ n: number }>({ name: 'diamond' });
    const a = wf.task({ name: 'a' }, async (input) => input.n + 1);
    const b = wf.task({ name: 'b', parents: [a] }, async (_i, ctx) => ctx.parentOutput(a) * 2);
    const c = wf.task({ name: 'c', parents: [a] }, async (_i, ctx) => ctx.parentOutput(a) * 3);
    const seen: Record<string, unknown>[] = [];
    wf.task({ name: 'd', parents: [b, c] }, async (input, ctx) => {
      seen.push({
        workflowName: ctx.workflowName,
        taskName: ctx.taskName,
        workflowRunId: ctx.workflowRunId,
        input,
        workflowInput: ctx.workflowInput,
        action: ctx.action,
        ambient: getTaskContext()?.taskRunId === ctx.taskRunId,
      });
      return ctx.parentOutput(b) + ctx.parentOutput(c);
    });
    await start(wf);
    const handle = await wf.enqueue({ n: 1 });
    expect(await handle.result({ timeout: '20s' })).toEqual({ a: 2, b: 4, c: 6, d: 10 });
    expect(seen).toEqual([
      {
        workflowName: 'diamond',
        taskName: 'd',
        workflowRunId: handle.id,
        input: { n: 1 },
        workflowInput: { n: 1 },
        action: { runId: handle.id, name: 'd' },
        ambient: true,
      },
    ]);
    expect((await handle.states()).map((s) => s.name)).toEqual(['Running', 'Completed']);
    const tasks = await baton.runs.list({ parentRunId: handle.id });
    expect(tasks.items.map((t) => [t.taskName, t.workflowName, t.state.name]).sort()).toEqual([
      ['a', 'diamond', 'Completed'],
      ['b', 'diamond', 'Completed'],
      ['c', 'diamond', 'Completed'],
      ['d', 'diamond', 'Completed'],
    ]);
    // Every task waited for its parents: its first states are Waiting then Pending.
    const dRow = tasks.items.find((t) => t.taskName === 'd');
    const dStates = await (await baton.runs.get(dRow?.id ?? '')).states();
    expect(dStates.map((s) => s.name)).toEqual(['Waiting', 'Pending', 'Running', 'Completed']);
    expect(dStates[0]?.waitingOn).toMatchObject({ reason: 'parents', parents: ['b', 'c'] });
  });

  it('starts a task as soon as its own parents end, not level by level', async () => {
    const wf = baton.workflow({ name: 'no-levels' });
    const slowGate = deferred<void>();
    const slow = wf.task({ name: 'slow' }, async () => {
      await slowGate.promise;
      return 'slow';
    });
    const fast = wf.task({ name: 'fast' }, async () => 'fast');
    const afterFast = deferred<string>();
    wf.task({ name: 'after-fast', parents: [fast] }, async (_i, ctx) => {
      afterFast.resolve(ctx.parentOutput(fast));
      return 'done';
    });
    wf.task({ name: 'join', parents: [slow, fast] }, async () => 'joined');
    await start(wf);
    const handle = await wf.enqueue(undefined);
    // after-fast runs while `slow` (a task of the first level) is still running.
    expect(await afterFast.promise).toBe('fast');
    expect((await handle.state()).name).toBe('Running');
    slowGate.resolve();
    expect(await handle.result({ timeout: '20s' })).toEqual({ slow: 'slow', fast: 'fast', 'after-fast': 'done', join: 'joined' });
  });

  it('records a task skipped by skipIf; its children run and see it as skipped, with no output', async () => {
    const wf = baton.workflow<{ skip: boolean }>({ name: 'skipping' });
    const a = wf.task({ name: 'a', skipIf: (ctx) => ctx.input.skip }, async () => 'a-out');
    wf.task({ name: 'b', parents: [a] }, async (_i, ctx) => {
      if (!ctx.wasSkipped(a)) return ctx.parentOutput(a);
      expect(() => ctx.parentOutput(a)).toThrow(/parent task "a" of "b" was skipped/);
      expect(() => ctx.parentOutput('unrelated')).toThrow(/is not a parent/);
      return 'saw-skip';
    });
    await start(wf);
    const skipped = await wf.enqueue({ skip: true });
    expect(await skipped.result({ timeout: '20s' })).toEqual({ a: undefined, b: 'saw-skip' });
    const aRow = (await baton.runs.list({ parentRunId: skipped.id, task: 'a' })).items[0];
    expect(aRow?.state).toMatchObject({ name: 'Skipped', type: 'COMPLETED' });
    expect(await wf.run({ skip: false })).toEqual({ a: 'a-out', b: 'a-out' });
  });

  it('a failed task cancels what can no longer run, other branches finish, then on-failure sees the errors', async () => {
    const wf = baton.workflow({ name: 'failing' });
    const charge = wf.task({ name: 'charge' }, async () => {
      throw new Error('card declined');
    });
    wf.task({ name: 'ship', parents: [charge] }, async () => 'shipped');
    wf.task({ name: 'email', parents: ['ship'] }, async () => 'emailed');
    wf.task({ name: 'audit' }, async () => 'audited');
    const onFailureSaw: unknown[] = [];
    wf.onFailure(async (_i, ctx) => {
      onFailureSaw.push({
        errors: ctx.taskRunErrors,
        charge: ctx.fetchTaskRunError(charge),
        audit: ctx.fetchTaskRunError('audit'),
      });
      return 'compensated';
    });
    await start(wf);
    const handle = await wf.enqueue(undefined);
    const error = await handle.result({ timeout: '20s' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunFailedError);
    expect((error as RunFailedError).stateName).toBe('Failed');
    expect((error as RunFailedError).message).toMatch(/task "charge" failed: card declined/);
    expect(onFailureSaw).toEqual([{ errors: { charge: 'card declined' }, charge: 'card declined', audit: undefined }]);
    const tasks = Object.fromEntries(
      (await baton.runs.list({ parentRunId: handle.id })).items.map((t) => [t.taskName, t.state.name]),
    );
    expect(tasks).toEqual({
      charge: 'Failed',
      ship: 'Cancelled',
      email: 'Cancelled',
      audit: 'Completed',
      'on-failure': 'Completed',
    });
  });

  it('skips the on-failure task when nothing failed', async () => {
    const wf = baton.workflow({ name: 'fine' });
    wf.task({ name: 'only' }, async () => 1);
    let called = false;
    wf.onFailure(async () => {
      called = true;
    });
    await start(wf);
    const handle = await wf.enqueue(undefined);
    expect(await handle.result({ timeout: '20s' })).toEqual({ only: 1 });
    const onFailure = (await baton.runs.list({ parentRunId: handle.id, task: 'on-failure' })).items[0];
    expect(onFailure?.state.name).toBe('Skipped');
    expect(called).toBe(false);
  });

  it('gives a stable workflowVersionId for the same definition and a new one when it changes', async () => {
    const define = (b: Baton, extra: boolean) => {
      const wf = b.workflow({ name: 'versioned' });
      const a = wf.task({ name: 'a' }, async (_i, ctx) => ctx.workflowVersionId);
      if (extra) wf.task({ name: 'b', parents: [a] }, async () => 'b');
      return wf;
    };
    const first = define(baton, false);
    const again = define(fixture.baton(), false);
    const changed = define(fixture.baton(), true);
    expect(again.versionId()).toBe(first.versionId());
    expect(changed.versionId()).not.toBe(first.versionId());
    await start(first);
    const out = await first.run(undefined);
    expect(out.a).toBe(first.versionId());
  });

  it('refuses bad definitions at definition time, naming the problem', () => {
    const wf = baton.workflow({ name: 'bad' });
    const a = wf.task({ name: 'a' }, async () => 1);
    expect(() => wf.task({ name: 'a' }, async () => 2)).toThrow(/already has a task named "a"/);
    expect(() => wf.task({ name: 'b', parents: ['nope'] }, async () => 2)).toThrow(/unknown parent "nope"/);
    // A cycle needs a parent defined after its child, which is refused the same way.
    expect(() => wf.task({ name: 'c', parents: ['d'] }, async () => 2)).toThrow(/define parents before their children/);
    const other = baton.workflow({ name: 'other' });
    const foreign = other.task({ name: 'x' }, async () => 1);
    expect(() => wf.task({ name: 'e', parents: [foreign] }, async () => 2)).toThrow(/of another workflow \("other"\)/);
    expect(() => wf.task({ name: 'f', parents: [a], retries: -1 }, async () => 2)).toThrow(ValidationError);
    expect(() => baton.workflow({ name: 'bad' })).toThrow(/already defined/);
    // Triggers are accepted now (events.test.ts, schedules.test.ts); malformed ones are refused.
    expect(() => baton.workflow({ name: 'w2', on: { events: [' x'] } })).toThrow(/on\.events\[0\]/);
    expect(() => baton.workflow({ name: 'w2', on: { hooks: [] } as never })).toThrow(/on\.hooks is not known/);
    expect(() => baton.workflow({ name: 'w3', colour: 'red' } as never)).toThrow(/unknown option "colour"/);
    const empty = baton.workflow({ name: 'empty' });
    return expect(empty.enqueue(undefined)).rejects.toThrow(/has no tasks/);
  });

  it('cancelling a workflow run cancels its tasks', async () => {
    const wf = baton.workflow({ name: 'cancel-me' });
    const started = deferred<void>();
    const a = wf.task({ name: 'a', cancelGracePeriod: '5s' }, async (_i, ctx) => {
      started.resolve();
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      return 'stopped';
    });
    wf.task({ name: 'b', parents: [a] }, async () => 'never');
    await start(wf);
    const handle = await wf.enqueue(undefined);
    await started.promise;
    await handle.cancel('changed my mind');
    expect((await handle.state()).name).toBe('Cancelled');
    await waitFor(
      async () => {
        const items = (await baton.runs.list({ parentRunId: handle.id })).items;
        return items.every((t) => t.state.name === 'Cancelled') && items.length === 2;
      },
      { timeout: 10_000, message: 'every task of the workflow run Cancelled' },
    );
  });

  it('fans out 1,000 children from one task and fans them back in', async () => {
    const child = baton.task({ name: 'square' }, async (n: number) => n * n);
    const parent = baton.task({ name: 'fan-out', timeout: '60s' }, async (count: number) => {
      const handles = await child.enqueueMany(Array.from({ length: count }, (_, i) => ({ input: i })));
      const results = await Promise.all(handles.map((h) => h.result()));
      return { count: results.length, sum: results.reduce((a, b) => a + b, 0) };
    });
    const worker = baton.worker({ name: 'fan', slots: 50, tasks: [parent, child] });
    await worker.start();
    const started = performance.now();
    const handle = await parent.enqueue(1000);
    expect(await handle.result({ timeout: '60s' })).toEqual({ count: 1000, sum: 332_833_500 });
    const elapsed = performance.now() - started;
    console.log(`[${backend}] 1,000-child fan-out/fan-in: ${Math.round(elapsed)} ms`);
    const children = await baton.runs.list({ parentRunId: handle.id, limit: 1000 });
    expect(children.items).toHaveLength(1000);
    expect(children.items.every((c) => c.state.name === 'Completed')).toBe(true);
  }, 90_000);

  it('a workflow enqueued inside a task is its child and inherits its tags', async () => {
    const wf = baton.workflow({ name: 'inner' });
    wf.task({ name: 'only' }, async (_i, ctx) => ({
      tags: ctx.tags,
      parent: ctx.parentWorkflowRunId,
      trigger: ctx.trigger.kind,
    }));
    const outer = baton.task({ name: 'outer' }, async () => wf.run(undefined, { tags: { extra: 'yes' } }));
    await start(wf, outer);
    const handle = await outer.enqueue(undefined, { tags: { team: 'core' } });
    expect(await handle.result({ timeout: '20s' })).toEqual({
      only: { tags: { team: 'core', extra: 'yes' }, parent: handle.id, trigger: 'child' },
    });
  });

  it('deduplicates a workflow run by idempotency key without creating its tasks twice', async () => {
    const wf = baton.workflow({ name: 'once' });
    wf.task({ name: 'only' }, async () => 1);
    const first = await wf.enqueue(undefined, { idempotencyKey: 'k' });
    const second = await wf.enqueue(undefined, { idempotencyKey: 'k' });
    expect(second.id).toBe(first.id);
    expect(second.outcome).toBe('deduplicated');
    const store = await baton.store();
    expect(await store.listWorkflowTasks('default', first.id)).toHaveLength(1);
  });
});
