/**
 * Retention (`store.pruneRuns`, DESIGN.md §4) on both stores: runs that ended
 * before the cutoff go with their states, logs, attempts, stream chunks, steps,
 * idempotency keys and children, a workflow run with all its tasks; runs that
 * have not ended, and trees holding one, stay; `dryRun` counts without deleting.
 */
import type { Baton, RunHandle, TaskContext } from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.js';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor, waitForState } from '../support/wait.js';

describeEachStore('prune', (backend: BackendName) => {
  let fixture: StoreFixture;
  let clock: TestClock;
  let baton: Baton;
  let store: Store;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    clock = new TestClock(new Date('2030-01-01T00:00:00.000Z'));
    baton = fixture.baton({ clock });
    store = await baton.store();
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function records(id: string) {
    const [states, logs, attempts, chunks, steps] = await Promise.all([
      store.listStates(id),
      store.listLogs(id),
      store.listAttempts(id),
      store.readStream(id, 0, 100),
      store.loadSteps(id),
    ]);
    return { states: states.length, logs: logs.length, attempts: attempts.length, chunks: chunks.length, steps: steps.length };
  }

  it('deletes ended trees before the cutoff with everything recorded for them; keeps live runs and recent ones', async () => {
    const unserved = baton.task({ name: 'unserved' }, async () => 'never');
    const chatty = baton.task({ name: 'chatty', retries: 0 }, async (input: string, ctx: TaskContext) => {
      await ctx.log(`hello ${input}`);
      await ctx.putStream({ input });
      return input;
    });
    const durable = baton.durableTask<unknown>({ name: 'durable' }, async (_input: unknown, ctx) =>
      ctx.step('one', async () => 1),
    );
    const parent = baton.task({ name: 'parent' }, async (mode: 'await' | 'leave') => {
      if (mode === 'await') return (await chatty.enqueue('child')).result();
      await unserved.enqueue(undefined); // a child that never starts: its tree must stay
      return 'left a child behind';
    });
    const wf = baton.workflow({ name: 'pipeline' });
    const first = wf.task({ name: 'first' }, async () => 1);
    wf.task({ name: 'second', parents: [first] }, async () => 2);
    const worker = baton.worker({ name: 'w', pollInterval: '20ms', shutdownTimeout: '1s', tasks: [chatty, durable, parent, wf] });
    await worker.start();

    // At T0: ended runs of every shape, and a queued one.
    const old = {
      plain: await chatty.enqueue('old', { idempotencyKey: 'once' }),
      durable: await durable.enqueue(undefined),
      tree: await parent.enqueue('await'),
      holding: await parent.enqueue('leave'),
      workflow: await wf.enqueue(undefined),
      queued: await unserved.enqueue(undefined),
    };
    for (const handle of [old.plain, old.durable, old.tree, old.holding, old.workflow]) await handle.result();
    const children = async (h: RunHandle) => (await store.listRuns({ namespace: 'default', parentRunId: h.id, limit: 10 })).items;
    const [treeChild] = await children(old.tree);
    const workflowTasks = await store.listWorkflowTasks('default', old.workflow.id);
    expect(treeChild).toBeDefined();
    expect(workflowTasks).toHaveLength(2);
    expect(await records(old.plain.id)).toEqual({ states: 3, logs: 1, attempts: 1, chunks: 1, steps: 0 });
    expect((await records(old.durable.id)).steps).toBe(1);

    // Ten days later: a recent run.
    await clock.advance('10d');
    const recent = await chatty.enqueue('recent');
    await recent.result();

    const cutoff = clock.now() - 5 * 86_400_000;
    // plain 1 + durable 1 + tree 2 (parent, child) + workflow 3 (run, two tasks) = 7
    expect(await store.pruneRuns('default', cutoff, { dryRun: true })).toBe(7);
    expect(await store.pruneRuns('other-namespace', cutoff)).toBe(0);
    expect((await baton.runs.list({ limit: 100 })).items).toHaveLength(11);
    expect(await store.pruneRuns('default', cutoff, { batch: 2 })).toBe(7);

    for (const id of [
      old.plain.id,
      old.durable.id,
      old.tree.id,
      treeChild?.id ?? '',
      old.workflow.id,
      ...workflowTasks.map((t) => t.id),
    ]) {
      expect(await store.getRun('default', id), id).toBeUndefined();
      expect(await records(id)).toEqual({ states: 0, logs: 0, attempts: 0, chunks: 0, steps: 0 });
    }
    const left = (await baton.runs.list({ limit: 100 })).items.map((r) => r.id).sort();
    const [leftChild] = await children(old.holding);
    expect(left).toEqual([old.holding.id, leftChild?.id, old.queued.id, recent.id].sort());
    expect((await records(recent.id)).logs).toBe(1);
    expect(await store.pruneRuns('default', cutoff)).toBe(0);

    // The pruned run's idempotency key went with it: the key starts a new run.
    const again = await chatty.enqueue('old', { idempotencyKey: 'once' });
    expect(again.outcome).toBe('created');
    expect(again.id).not.toBe(old.plain.id);
    await again.result();

    // Once the child that held its tree back ends, the tree goes too; a cutoff of now takes every ended run.
    await (await baton.runs.get(leftChild?.id ?? '')).cancel('done waiting');
    await waitForState(await baton.runs.get(leftChild?.id ?? ''), 'Cancelled');
    await clock.advance('1s');
    await waitFor(async () => (await store.pruneRuns('default', clock.now(), { dryRun: true })) === 4);
    expect(await store.pruneRuns('default', clock.now())).toBe(4); // holding + its child, recent, again
    expect((await baton.runs.list({ limit: 100 })).items.map((r) => r.id)).toEqual([old.queued.id]);
    await worker.stop();
  });
});
