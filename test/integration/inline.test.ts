/**
 * Inline runs (DESIGN.md §1 Prefect row, issue 7): `task.runInline` executes in
 * the calling process as a stored run with context, retries, timeouts, hooks
 * and states; `returnType: 'state'`; `waitFor` — on both stores.
 */
import { type Baton, getTaskContext, RunFailedError, type TaskContext, type Worker } from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';

describeEachStore('inline runs', (backend: BackendName) => {
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

  it('runs in this process as a stored run with its context and states', async () => {
    const seen: { attempt: number; taskName: string; tags: Record<string, string> }[] = [];
    const greet = baton.task({ name: 'greet' }, async (name: string, ctx: TaskContext) => {
      const ambient = getTaskContext();
      seen.push({ attempt: ctx.attempt, taskName: ambient?.taskName ?? '?', tags: ctx.tags });
      await ctx.log('greeting', { name });
      return `hello ${name}`;
    });
    await expect(greet.runInline('ada', { tags: { source: 'inline' } })).resolves.toBe('hello ada');
    expect(seen).toEqual([{ attempt: 0, taskName: 'greet', tags: { source: 'inline' } }]);
    const [item] = (await baton.runs.list({ task: 'greet' })).items;
    expect(item?.state.name).toBe('Completed');
    const handle = await baton.runs.get(item?.id as string);
    expect((await handle.states()).map((s) => s.name)).toEqual(['Pending', 'Running', 'Completed']);
    expect((await handle.logs()).map((l) => l.message)).toEqual(['greeting']);
  });

  it('retries, then succeeds, calling the retry hook', async () => {
    let calls = 0;
    const retried: number[] = [];
    const flaky = baton.task(
      { name: 'flaky', retries: 2, retryDelay: '10ms', hooks: { onRetry: (_ctx, _err, r) => void retried.push(r.attempt) } },
      async () => {
        calls++;
        if (calls < 2) throw new Error('transient');
        return 'ok';
      },
    );
    const state = await flaky.runInline(undefined, { returnType: 'state' });
    expect(state).toMatchObject({ type: 'COMPLETED', name: 'Completed', output: 'ok', attempt: 1 });
    expect(retried).toEqual([1]);
    const [item] = (await baton.runs.list({ task: 'flaky' })).items;
    const names = (await (await baton.runs.get(item?.id as string)).states()).map((s) => s.name);
    expect(names).toEqual(['Pending', 'Running', 'AwaitingRetry', 'Retrying', 'Completed']);
  });

  it("a failure throws RunFailedError, or with returnType 'state' resolves to the Failed state", async () => {
    const broken = baton.task({ name: 'broken' }, async () => {
      throw new TypeError('bad data');
    });
    await expect(broken.runInline(undefined)).rejects.toThrow(RunFailedError);
    const state = await broken.runInline(undefined, { returnType: 'state' });
    expect(state.type).toBe('FAILED');
    expect(state.name).toBe('Failed');
    expect(state.error).toMatchObject({ name: 'TypeError', message: 'bad data' });
  });

  it('honours the timeout', async () => {
    const slow = baton.task({ name: 'slow', timeout: '50ms' }, async (_: undefined, ctx: TaskContext) => {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    });
    const state = await slow.runInline(undefined, { returnType: 'state' });
    expect(state).toMatchObject({ type: 'FAILED', name: 'TimedOut' });
  });

  it('waitFor waits for runs and inline results first; a failed upstream cancels the run', async () => {
    const order: string[] = [];
    const step = baton.task({ name: 'step' }, async (label: string) => {
      order.push(label);
      return label;
    });
    const worker = baton.worker({ name: 'w', slots: 2, pollInterval: '20ms', tasks: [step] });
    await worker.start();
    workers.push(worker);
    const queued = await step.enqueue('queued');
    const inlineResult = step.runInline('inline-first');
    await expect(step.runInline('after', { waitFor: [queued, inlineResult] })).resolves.toBe('after');
    expect(order.indexOf('after')).toBe(2);
    const failing = baton.task({ name: 'failing' }, async () => {
      throw new Error('upstream broke');
    });
    const failed = failing.runInline(undefined, { returnType: 'state' });
    const state = await step.runInline('never', { waitFor: [failed], returnType: 'state' });
    expect(state.name).toBe('Cancelled');
    expect(state.message).toContain('ended Failed');
    expect(order).not.toContain('never');
  });

  it('inside a task, an inline run is its child', async () => {
    const child = baton.task({ name: 'inline-child' }, async (_: undefined, ctx: TaskContext) =>
      ctx.trigger.kind === 'child' ? ctx.trigger.parentTaskRunId : null,
    );
    const parent = baton.task({ name: 'inline-parent' }, async (_: undefined, ctx: TaskContext) => ({
      me: ctx.taskRunId,
      childSawParent: await child.runInline(undefined),
    }));
    const result = await parent.runInline(undefined);
    expect(result.childSawParent).toBe(result.me);
  });
});
