/**
 * ctx.runChild (DESIGN.md §2.2, §2.13 "Children"): a recorded child enqueue that a
 * re-execution never spawns twice; while the parent awaits it the parent is
 * Waiting and holds no slot, and it resumes when the child ends — on both stores.
 */
import { type Baton, RunFailedError } from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor } from '../support/wait.js';

describeEachStore('ctx.runChild', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  it('awaits a child holding no slot, resumes when it ends, and never spawns it twice', async () => {
    const gate = deferred<void>();
    let childRuns = 0;
    const child = baton.task({ name: 'slow-child' }, async (n: number) => {
      childRuns++;
      await gate.promise;
      return n * 2;
    });
    let parentExecutions = 0;
    const parent = baton.durableTask({ name: 'parent', retries: 1, retryDelay: 0 }, async (n: number, ctx) => {
      parentExecutions++;
      const doubled = await ctx.runChild(child, n, { tags: { via: 'runChild' } });
      if (ctx.attempt === 0) throw new Error('fail once after the child');
      return doubled + 1;
    });
    // One slot for the parent, one for the child: the parent must give its slot up while it waits.
    const worker = baton.worker({ name: 'w', slots: 2, pollInterval: '20ms', tasks: [parent, child] });
    await worker.start();
    const handle = await parent.enqueue(20);
    await waitFor(async () => (await handle.state()).name === 'Waiting', { message: 'parent waits for the child' });
    const state = await handle.state();
    expect(state.waitingOn).toMatchObject({ reason: 'durable-wait' });
    expect(worker.freeSlots).toBe(1);
    const children = await baton.runs.list({ parentRunId: handle.id });
    expect(children.items).toHaveLength(1);
    expect(children.items[0]?.tags).toEqual({ via: 'runChild' });
    gate.resolve();
    expect(await handle.result({ timeout: '20s' })).toBe(41);
    // The retry replayed the recorded child instead of enqueueing a second one.
    expect(childRuns).toBe(1);
    expect((await baton.runs.list({ parentRunId: handle.id })).items).toHaveLength(1);
    expect(parentExecutions).toBe(3);
  });

  it('rethrows a failed child as RunFailedError, and returns at once when the child already ended', async () => {
    const failing = baton.task({ name: 'failing-child' }, async () => {
      throw new Error('child broke');
    });
    const quick = baton.task({ name: 'quick-child' }, async () => 'quick');
    const parent = baton.durableTask({ name: 'parent-2' }, async (_: null, ctx) => {
      const q = await ctx.runChild(quick, undefined);
      try {
        await ctx.runChild(failing, undefined);
        return 'unexpected';
      } catch (error) {
        return { q, failed: error instanceof RunFailedError ? error.stateName : String(error) };
      }
    });
    const worker = baton.worker({ name: 'w', slots: 4, pollInterval: '20ms', tasks: [parent, failing, quick] });
    await worker.start();
    expect(await (await parent.enqueue(null)).result({ timeout: '20s' })).toEqual({ q: 'quick', failed: 'Failed' });
  });

  it('cancelling the waiting parent cancels its child', async () => {
    const child = baton.task({ name: 'endless-child' }, async (_: null, ctx) => {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    });
    const parent = baton.durableTask({ name: 'parent-3' }, async (_: null, ctx) => ctx.runChild(child, null));
    const worker = baton.worker({ name: 'w', slots: 2, pollInterval: '20ms', tasks: [parent, child] });
    await worker.start();
    const handle = await parent.enqueue(null);
    await waitFor(async () => (await handle.state()).name === 'Waiting');
    await handle.cancel('stop everything');
    expect((await handle.state()).name).toBe('Cancelled');
    const [childRow] = (await baton.runs.list({ parentRunId: handle.id })).items;
    await waitFor(async () => (await (await baton.runs.get(childRow?.id ?? '')).state()).name === 'Cancelled', {
      timeout: 15_000,
      message: 'the child is cancelled',
    });
  });
});
