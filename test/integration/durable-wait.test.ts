/**
 * ctx.waitFor (DESIGN.md §2.2, §2.12 waitFor, §2.13 event waits): the run waits
 * without a slot for the first of sleep and event conditions; filters; an event
 * pushed before the wait is reached is not lost; each event satisfies one wait;
 * sleep-vs-event races both ways — on both stores, on a TestClock.
 */
import type { Baton, StateName, WaitResult } from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor } from '../support/wait.js';

describeEachStore('ctx.waitFor', (backend: BackendName) => {
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

  async function stateOf(id: string): Promise<StateName> {
    return (await (await baton.runs.get(id)).state()).name;
  }

  const summary = (r: WaitResult) => ({ index: r.index, kind: r.kind, payload: r.event?.payload, key: r.event?.key });

  it('waits for a matching event, ignoring events whose payload does not match the filter', async () => {
    const approval = baton.durableTask({ name: 'approval' }, async (orderId: string, ctx) => {
      const result = await ctx.waitFor(
        'approval',
        { event: 'order:approved', filter: { orderId, by: { team: 'risk' } } },
        { sleep: '2d' },
      );
      return summary(result);
    });
    const worker = baton.worker({ name: 'w', slots: 2, pollInterval: '20ms', tasks: [approval] });
    await worker.start();
    const handle = await approval.enqueue('o1');
    await waitFor(async () => (await stateOf(handle.id)) === 'Waiting', { message: 'waiting for approval' });
    expect(worker.freeSlots).toBe(2);
    await baton.events.push('order:approved', { orderId: 'o2', by: { team: 'risk' } });
    await baton.events.push('order:approved', { orderId: 'o1', by: { team: 'sales' } });
    await baton.events.push('order:other', { orderId: 'o1', by: { team: 'risk' } });
    // Woken by the pushes, it looks, finds nothing matching, and waits again.
    await waitFor(async () => (await handle.states()).filter((s) => s.name === 'Waiting').length >= 2, {
      message: 'woke and waited again',
    });
    expect(await stateOf(handle.id)).toBe('Waiting');
    await baton.events.push('order:approved', { orderId: 'o1', by: { team: 'risk', name: 'ada' } });
    expect(await handle.result({ timeout: '10s' })).toEqual({
      index: 0,
      kind: 'event',
      key: 'order:approved',
      payload: { orderId: 'o1', by: { team: 'risk', name: 'ada' } },
    });
  });

  it('does not lose an event pushed after the run started but before it reached the wait', async () => {
    const gate = deferred<void>();
    const task = baton.durableTask({ name: 'late-waiter' }, async (_: null, ctx) => {
      await ctx.step('slow-first', async () => gate.promise);
      return summary(await ctx.waitFor('go', { event: 'go' }));
    });
    const worker = baton.worker({ name: 'w', pollInterval: '20ms', tasks: [task] });
    await worker.start();
    const handle = await task.enqueue(null);
    await waitFor(async () => (await stateOf(handle.id)) === 'Running');
    await baton.events.push('go', { n: 1 });
    gate.resolve();
    expect(await handle.result({ timeout: '10s' })).toEqual({ index: 0, kind: 'event', key: 'go', payload: { n: 1 } });
  });

  it('lets each event satisfy one wait of a run', async () => {
    const task = baton.durableTask({ name: 'two-waits' }, async (_: null, ctx) => {
      const first = await ctx.waitFor('first', { event: 'tick' });
      const second = await ctx.waitFor('second', { event: 'tick' });
      return [first.event?.payload, second.event?.payload];
    });
    const worker = baton.worker({ name: 'w', pollInterval: '20ms', tasks: [task] });
    await worker.start();
    const handle = await task.enqueue(null);
    await waitFor(async () => (await stateOf(handle.id)) === 'Waiting');
    await baton.events.push('tick', 1);
    await waitFor(async () => (await handle.states()).filter((s) => s.name === 'Waiting').length >= 2, {
      message: 'second wait',
    });
    expect(await stateOf(handle.id)).toBe('Waiting');
    await baton.events.push('tick', 2);
    expect(await handle.result({ timeout: '10s' })).toEqual([1, 2]);
  });

  it('sleep versus event: the event wins before the deadline, the sleep after it', async () => {
    const task = baton.durableTask({ name: 'race' }, async (orderId: string, ctx) =>
      summary(await ctx.waitFor('race', { event: 'paid', filter: { orderId } }, { sleep: '1h' })),
    );
    const worker = baton.worker({ name: 'w', slots: 4, pollInterval: '20ms', tasks: [task] });
    await worker.start();
    const eventFirst = await task.enqueue('a');
    const sleepFirst = await task.enqueue('b');
    await waitFor(async () => (await stateOf(eventFirst.id)) === 'Waiting' && (await stateOf(sleepFirst.id)) === 'Waiting');
    await clock.advance('30m');
    await baton.events.push('paid', { orderId: 'a' });
    expect(await eventFirst.result({ timeout: '10s' })).toEqual({
      index: 0,
      kind: 'event',
      key: 'paid',
      payload: { orderId: 'a' },
    });
    await clock.advance('31m');
    expect(await sleepFirst.result({ timeout: '10s' })).toEqual({ index: 1, kind: 'sleep', key: undefined, payload: undefined });
    // An event arriving after the sleep won changes nothing.
    await baton.events.push('paid', { orderId: 'b' });
    expect(await stateOf(sleepFirst.id)).toBe('Completed');
  });

  it('an array is an all-of group: it fires once every member is met', async () => {
    const task = baton.durableTask({ name: 'both' }, async (_: null, ctx) => {
      const result = await ctx.waitFor('both', [{ event: 'signed' }, { event: 'paid' }]);
      return { index: result.index, keys: result.events?.map((e) => e.key) };
    });
    const worker = baton.worker({ name: 'w', pollInterval: '20ms', tasks: [task] });
    await worker.start();
    const handle = await task.enqueue(null);
    await waitFor(async () => (await stateOf(handle.id)) === 'Waiting');
    await baton.events.push('paid', {});
    await waitFor(async () => (await handle.states()).filter((s) => s.name === 'Waiting').length >= 2);
    expect(await stateOf(handle.id)).toBe('Waiting');
    await baton.events.push('signed', {});
    expect(await handle.result({ timeout: '10s' })).toEqual({ index: 0, keys: ['signed', 'paid'] });
  });
});
