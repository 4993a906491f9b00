/**
 * A result the store refuses for good (not a lost connection) must not stall the
 * worker or other runs: only that attempt fails to settle, its lease runs out, and
 * the sweep takes the run over — on both stores.
 */
import type { Baton } from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

describeEachStore('unstorable results', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton({ sweepInterval: '200ms' });
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  it('a settlement the store rejects fails only its own run, which is crashed after its leases', async () => {
    const store = await baton.store();
    const settle = store.settle.bind(store);
    // The database refuses every write that carries the poisoned run's completion.
    let poisoned = '';
    store.settle = async (logs, settlements) => {
      if (settlements.some((s) => s.runId === poisoned && s.kind === 'complete')) {
        const { StorageError } = await import('baton');
        throw new StorageError('value too long for column', { retryable: false });
      }
      return settle(logs, settlements);
    };
    const task = baton.task({ name: 'mixed', maxCrashes: 0 }, async (n: number) => n);
    const worker = baton.worker({ name: 'w', slots: 20, lease: '500ms', pollInterval: '20ms', tasks: [task] });
    const handles = await task.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ input: i })));
    poisoned = handles[7]?.id ?? '';
    await worker.start();
    const results = await Promise.all(handles.map((h, i) => (i === 7 ? Promise.resolve(-1) : h.result({ timeout: '20s' }))));
    expect(results.filter((r) => r >= 0)).toHaveLength(19);
    await waitFor(async () => (await handles[7]?.state())?.name === 'Crashed', {
      timeout: 15_000,
      message: 'the poisoned run ends Crashed',
    });
  });
});
