/**
 * The worker's step queue: step records of concurrent attempts share one store call, and a
 * record the store refuses for good fails only its own attempt.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import type { StepGroup, Store } from '../../src/store/types.js';
import { StepQueue } from '../../src/worker/step-queue.js';
import { newRun } from '../support/new-run.js';
import { createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';

const NS = 'default';

const step = (output: string) => [{ key: 's#1', seq: 0, kind: 'step' as const, output, error: null, attempt: 0 }];

describeEachStore('step queue', (backend) => {
  let fixture: StoreFixture;
  let store: Store;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    store = await fixture.baton().store();
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  it('writes the records of concurrent attempts in one call; a record refused for good fails alone', async () => {
    const runs = [newRun(), newRun(), newRun()];
    await store.createRuns(NS, runs);
    await store.claimRuns({ namespace: NS, workerId: 'w1', taskNames: ['task-a'], limit: 10, leaseMs: 30_000 });
    const [a, b, c] = runs.map((run) => ({ runId: run.id, epoch: 1 })) as [StepLease, StepLease, StepLease];
    const calls: number[] = [];
    const refusing = Object.create(store) as Store;
    refusing.recordSteps = (batch: readonly StepGroup[]) => {
      calls.push(batch.length);
      if (batch.some((group) => group.lease.runId === b.runId)) {
        return Promise.reject(new StorageError('this record cannot be stored', { retryable: false }));
      }
      return store.recordSteps(batch);
    };
    const queue = new StepQueue(refusing);
    const results = await Promise.allSettled([
      queue.record(a, step('"a"')),
      queue.record(b, step('"b"')),
      queue.record(c, step('"c"')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StorageError);
    expect(calls).toEqual([3, 1, 1, 1]);
    expect((await store.loadSteps(a.runId)).map((s) => s.output)).toEqual(['"a"']);
    expect(await store.loadSteps(b.runId)).toEqual([]);
    expect((await store.loadSteps(c.runId)).map((s) => s.output)).toEqual(['"c"']);
  });

  it('reports a lost lease as false and rejects every record of a batch that failed retryably', async () => {
    const run = newRun();
    await store.createRuns(NS, [run]);
    await store.claimRuns({ namespace: NS, workerId: 'w1', taskNames: ['task-a'], limit: 10, leaseMs: 30_000 });
    const queue = new StepQueue(store);
    expect(await queue.record({ runId: run.id, epoch: 2 }, step('"stale"'))).toBe(false);
    const flaky = Object.create(store) as Store;
    flaky.recordSteps = () => Promise.reject(new StorageError('connection lost', { retryable: true }));
    const failing = new StepQueue(flaky);
    const lease = { runId: run.id, epoch: 1 };
    const results = await Promise.allSettled([failing.record(lease, step('"x"')), failing.record(lease, step('"y"'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await store.loadSteps(run.id)).toEqual([]);
  });
});

type StepLease = { runId: string; epoch: number };
