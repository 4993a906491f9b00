/**
 * A worker hands a finished handler's slot to the next run while the result is still being
 * stored, but never runs more handlers than it has slots, and never lets more than 2 × slots
 * results wait to be stored.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Settlement, Store } from '../../src/store/types.js';
import { createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

describeEachStore('slot handover', (backend) => {
  let fixture: StoreFixture;

  beforeEach(async () => {
    fixture = await createFixture(backend);
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  it('starts the next run while a result is being stored, within slots and 2 × slots pending results', async () => {
    const baton = fixture.baton();
    const store: Store = await baton.store();
    // Settlements wait at this gate, as if each commit took as long as the test wants.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    const settle = store.settle.bind(store);
    let settling = 0;
    store.settle = async (logs, settlements: readonly Settlement[]) => {
      if (settlements.length > 0) {
        settling += settlements.length;
        await gate;
      }
      return settle(logs, settlements);
    };
    let running = 0;
    let mostRunning = 0;
    const started: number[] = [];
    const task = baton.task({ name: 'quick' }, async (input: { i: number }) => {
      running++;
      mostRunning = Math.max(mostRunning, running);
      started.push(input.i);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      return input.i;
    });
    const handles = await task.enqueueMany(Array.from({ length: 6 }, (_, i) => ({ input: { i } })));
    const worker = baton.worker({ name: 'w', slots: 1, pollInterval: '20ms', tasks: [task] });
    await worker.start();
    try {
      // One slot, no result stored yet: the first two runs start (their results pending, the
      // first one's write held at the gate), the third waits until a result is stored.
      await waitFor(() => started.length === 2 && settling >= 1, { message: 'two runs to start' });
      // Several claim polls (every 20 ms) pass while the results are held: none starts a third run.
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(started).toEqual([0, 1]);
    } finally {
      openGate();
    }
    const outputs = await Promise.all(handles.map((h) => h.result()));
    expect(outputs).toEqual([0, 1, 2, 3, 4, 5]);
    expect(mostRunning).toBe(1);
    await worker.stop();
  });
});
