/**
 * Ambient context isolation (DESIGN.md §2.3): 200 runs at once on one worker,
 * each crossing timers, awaits and Promise.all branches, each seeing only its own
 * context — on both stores.
 */
import { type Baton, getTaskContext } from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';

const RUNS = 200;

describeEachStore('context isolation', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  it(`${RUNS} concurrent runs on one worker each see only their own context`, async () => {
    let running = 0;
    let maxRunning = 0;
    let release!: () => void;
    const allStarted = new Promise<void>((resolve) => {
      release = resolve;
    });

    /** What a helper sees: the ambient run id and input, wherever it is called from. */
    const look = () => {
      const ctx = getTaskContext<{ n: number }>();
      return { id: ctx?.taskRunId, n: ctx?.input.n };
    };
    const later = <T>(ms: number, fn: () => T) => new Promise<T>((resolve) => setTimeout(() => resolve(fn()), ms));

    const task = baton.task({ name: 'isolated' }, async (input: { n: number }, ctx) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (running === RUNS) release();
      const views = [look()];
      // Every run is in flight before any goes on, so their scopes interleave.
      await allStarted;
      views.push(await later(input.n % 7, look));
      const branches = await Promise.all([
        later(3, look),
        (async () => {
          await Promise.resolve();
          return look();
        })(),
        later(1, () => later(input.n % 3, look)).then((v) => v),
        new Promise<ReturnType<typeof look>>((resolve) => setImmediate(() => resolve(look()))),
      ]);
      views.push(...branches);
      views.push(await later(2, look));
      running--;
      const wrong = views.filter((v) => v.id !== ctx.taskRunId || v.n !== input.n);
      return { id: ctx.taskRunId, n: input.n, views: views.length, wrong };
    });

    const worker = baton.worker({ name: 'wide', slots: RUNS, pollInterval: '20ms', tasks: [task] });
    await worker.start();
    const handles = await task.enqueueMany(Array.from({ length: RUNS }, (_, n) => ({ input: { n } })));
    const outputs = await Promise.all(handles.map((h) => h.result({ timeout: '20s' })));

    expect(maxRunning).toBe(RUNS);
    outputs.forEach((output, i) => {
      expect(output).toEqual({ id: handles[i]?.id, n: i, views: 7, wrong: [] });
    });
    expect(new Set(outputs.map((o) => o.id)).size).toBe(RUNS);
    // Outside every run, nothing leaked into the test's own scope.
    expect(getTaskContext()).toBeUndefined();
  });
});
