/**
 * Durable sleep (DESIGN.md §2.2 sleepFor, §2.13 replay): a sleeping run holds no
 * slot and no memory, wakes when the clock says so on any worker, survives a
 * restart, and can be cancelled while it sleeps — on both stores.
 */
import type { Baton, StateName } from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

describeEachStore('durable sleep', (backend: BackendName) => {
  let fixture: StoreFixture;
  let clock: TestClock;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    clock = new TestClock(new Date('2030-01-01T00:00:00Z'));
    baton = fixture.baton({ clock });
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  async function stateOf(b: Baton, id: string): Promise<StateName> {
    return (await (await b.runs.get(id)).state()).name;
  }

  it('sleeps 7 days: Waiting with its wake time, then resumes after the clock moves, steps not re-run', async () => {
    let before = 0;
    const task = baton.durableTask({ name: 'week-sleeper' }, async (_: null, ctx) => {
      await ctx.step('before', async () => {
        before++;
        return ctx.now().toISOString();
      });
      await ctx.sleepFor('7d');
      return ctx.step('after', async () => new Date(clockNow()).toISOString());
    });
    const clockNow = () => clock.now();
    const worker = baton.worker({ name: 'w', slots: 2, pollInterval: '20ms', tasks: [task] });
    await worker.start();
    const handle = await task.enqueue(null);
    await waitFor(async () => (await stateOf(baton, handle.id)) === 'Waiting', { message: 'the run sleeps' });
    const state = await handle.state();
    expect(state.type).toBe('WAITING');
    expect(state.waitingOn).toMatchObject({ reason: 'durable-wait', until: new Date('2030-01-08T00:00:00Z') });
    expect(worker.activeRunIds).toEqual([]);
    await clock.advance('6d');
    expect(await stateOf(baton, handle.id)).toBe('Waiting');
    await clock.advance('1d');
    expect(await handle.result({ timeout: '10s' })).toBe('2030-01-08T00:00:00.000Z');
    expect(before).toBe(1);
    expect((await handle.states()).map((s) => s.name)).toEqual([
      'Pending',
      'Running',
      'Waiting',
      'Pending',
      'Running',
      'Completed',
    ]);
    // Same attempt throughout: a wait is not a retry.
    expect((await handle.attempts()).map((a) => [a.attempt, a.outcome])).toEqual([
      [0, 'suspended'],
      [0, 'completed'],
    ]);
  });

  it('1,000 sleeping runs on a 10-slot worker hold no slot: the worker keeps running other tasks', async () => {
    const sleeper = baton.durableTask({ name: 'sleeper' }, async (n: number, ctx) => {
      await ctx.sleepFor('1h');
      return n;
    });
    const quick = baton.task({ name: 'quick' }, async (n: number) => n * 2);
    const worker = baton.worker({ name: 'w', slots: 10, pollInterval: '20ms', tasks: [sleeper, quick] });
    await worker.start();
    const sleepers = await sleeper.enqueueMany(Array.from({ length: 1000 }, (_, i) => ({ input: i })));
    await waitFor(
      async () => (await baton.runs.list({ status: 'Waiting', task: 'sleeper', limit: 1000 })).items.length === 1000,
      { timeout: 60_000, message: 'all 1,000 asleep' },
    );
    expect(worker.freeSlots).toBe(10);
    const quickRuns = await quick.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ input: i })));
    expect(await Promise.all(quickRuns.map((h) => h.result({ timeout: '20s' })))).toEqual(
      Array.from({ length: 50 }, (_, i) => i * 2),
    );
    await clock.advance('1h');
    const results = await Promise.all(sleepers.map((h) => h.result({ timeout: '60s' })));
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  }, 120_000);

  it('a sleeping run is cancelled at once and never wakes', async () => {
    let woke = false;
    const task = baton.durableTask({ name: 'cancel-sleeper' }, async (_: null, ctx) => {
      await ctx.sleepFor('1h');
      woke = true;
    });
    const worker = baton.worker({ name: 'w', pollInterval: '20ms', tasks: [task] });
    await worker.start();
    const handle = await task.enqueue(null);
    await waitFor(async () => (await stateOf(baton, handle.id)) === 'Waiting');
    await handle.cancel('no longer needed');
    expect(await stateOf(baton, handle.id)).toBe('Cancelled');
    await clock.advance('2h');
    await waitFor(async () => worker.activeRunIds.length === 0);
    expect(await stateOf(baton, handle.id)).toBe('Cancelled');
    expect(woke).toBe(false);
  });

  it('survives a restart: another Baton on the same database wakes it', async () => {
    const define = (b: Baton) =>
      b.durableTask({ name: 'restart-sleeper' }, async (_: null, ctx) => {
        const id = ctx.randomUUID();
        await ctx.sleepFor('30m');
        return id;
      });
    const first = define(baton);
    const worker = baton.worker({ name: 'first', pollInterval: '20ms', tasks: [first] });
    await worker.start();
    const handle = await first.enqueue(null);
    await waitFor(async () => (await stateOf(baton, handle.id)) === 'Waiting');
    await baton.close();
    const again = fixture.baton({ clock });
    const task = define(again);
    const second = again.worker({ name: 'second', pollInterval: '20ms', tasks: [task] });
    await second.start();
    await clock.advance('30m');
    const id = await (await again.runs.get<string>(handle.id)).result({ timeout: '10s' });
    const store = await again.store();
    const recorded = (await store.loadSteps(handle.id)).find((s) => s.kind === 'uuid');
    expect(JSON.parse(recorded?.output ?? '""')).toBe(id);
  });
});
