/**
 * Regressions found by the reliability scenarios of RELIABILITY.md sections F and I.
 *
 * #27 (clock skew): a worker whose machine clock is off (BATON_TEST_CLOCK_OFFSET_MS) took a durable
 * sleep's wake time from its own clock, while PostgreSQL compares wake times with the database's
 * now(): an hour-fast worker's 1 s sleep woke an hour late, an hour-slow one's at once. Workers now
 * keep the store's time (clock + measured offset to store.now()) for every due-time they compute.
 * Events pushed from a skewed process are stamped with the store's time too (waiters wake at it).
 */
import { afterEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';

const HOUR_MS = 3_600_000;

describeEachStore('F/I regressions', (backend: BackendName) => {
  let fixture: StoreFixture;

  afterEach(async () => {
    delete process.env.BATON_TEST_CLOCK_OFFSET_MS;
    await fixture?.cleanup();
  });

  for (const offset of [HOUR_MS, -HOUR_MS]) {
    it(`a durable sleep of 1 s on a worker whose clock is ${offset > 0 ? 'an hour fast' : 'an hour slow'} wakes after 1 s of real time`, async () => {
      fixture = await createFixture(backend);
      process.env.BATON_TEST_CLOCK_OFFSET_MS = String(offset);
      const baton = fixture.baton({ sweepInterval: '1s' });
      delete process.env.BATON_TEST_CLOCK_OFFSET_MS;
      let executions = 0;
      const sleeper = baton.durableTask({ name: 'sleeper' }, async (_input: unknown, ctx) => {
        executions++;
        const start = await ctx.step('start', () => Date.now());
        await ctx.sleepFor('1s');
        return Date.now() - start;
      });
      const worker = baton.worker({ name: 'w', pollInterval: '50ms', tasks: [sleeper] });
      await worker.start();
      // An event's time is the store's: the skewed clock itself on SQLite (one machine, one clock),
      // the database's now() on PostgreSQL, whatever the pushing process's clock says.
      const probe = await baton.events.push('probe');
      const storeSkew = backend === 'sqlite' ? offset : 0;
      expect(Math.abs(probe.time.getTime() - Date.now() - storeSkew)).toBeLessThan(60_000);
      const handle = await sleeper.enqueue(undefined);
      const slept = await Promise.race([
        handle.result(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the 1 s sleep did not end within 10 s')), 10_000)),
      ]);
      expect(slept).toBeGreaterThanOrEqual(1_000);
      expect(slept).toBeLessThan(5_000);
      // Once to sleep, once to wake (an hour-slow wake time was due at once, and replayed over and over).
      expect(executions).toBe(2);
    });
  }
});
