/**
 * Regressions found by RELIABILITY.md sections C and D (test/reliability/c-timeouts.test.ts,
 * d-cancellation.test.ts), on both stores:
 * #21 cancelling a run in a durable wait removes its wake time and its event_waits rows (they were
 *     left behind, an event subscription of a Cancelled run, until retention pruned it).
 * #14 a handler deaf to its signal that returns after its attempt was settled without it (timed
 *     out) is logged as discarded at warn, naming the run (it was dropped silently).
 */

import type { Baton } from 'baton';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, PG_URL, type StoreFixture } from '../support/stores.js';
import { waitFor, waitForState } from '../support/wait.js';

describeEachStore('C and D regressions', (backend: BackendName) => {
  let fixture: StoreFixture;

  beforeEach(async () => {
    fixture = await createFixture(backend);
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  async function sql(text: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    if (backend === 'sqlite') {
      const db = new Database(fixture.options.database as string);
      try {
        return db.prepare(text.replace(/\$\d+/g, '?')).all(...params) as Record<string, unknown>[];
      } finally {
        db.close();
      }
    }
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(`SET search_path TO "${fixture.options.schema}"`);
      return (await client.query(text, params)).rows;
    } finally {
      await client.end();
    }
  }

  it('#21 cancelling a run that sleeps or waits for an event leaves no wake time and no event_waits rows', async () => {
    const baton: Baton = fixture.baton();
    const sleeper = baton.durableTask({ name: 'sleeps' }, async (_: null, ctx) => {
      await ctx.sleepFor('1h');
    });
    const waiter = baton.durableTask({ name: 'waits' }, async (orderId: string, ctx) => {
      await ctx.waitFor('paid', { event: 'paid', filter: { orderId } }, { sleep: '1h' });
    });
    const worker = baton.worker({ name: 'w', slots: 2, pollInterval: '20ms', tasks: [sleeper, waiter] });
    await worker.start();
    const sleeping = await sleeper.enqueue(null);
    const waiting = await waiter.enqueue('o1');
    await waitForState(sleeping, 'Waiting');
    await waitForState(waiting, 'Waiting');
    const leftovers = async () => ({
      timers: (await sql('SELECT id FROM runs WHERE id IN ($1, $2) AND wake_at IS NOT NULL', [sleeping.id, waiting.id])).length,
      waiters: (await sql('SELECT run_id FROM event_waits WHERE run_id IN ($1, $2)', [sleeping.id, waiting.id])).length,
    });
    expect(await leftovers()).toEqual({ timers: 2, waiters: 1 });

    await sleeping.cancel();
    await waiting.cancel();
    expect((await sleeping.state()).name).toBe('Cancelled');
    expect((await waiting.state()).name).toBe('Cancelled');
    expect(await leftovers()).toEqual({ timers: 0, waiters: 0 });
    await baton.events.push('paid', { orderId: 'o1' });
    expect((await waiting.state()).name).toBe('Cancelled');
    await worker.stop();
  });

  it('#14 a handler that returns after its attempt timed out is logged as discarded', async () => {
    const warnings: { fields: Record<string, unknown>; message: string | undefined }[] = [];
    const ignore = () => undefined;
    const logger = {
      debug: ignore,
      info: ignore,
      error: ignore,
      warn: (fields: object, message?: string) => warnings.push({ fields: fields as Record<string, unknown>, message }),
    };
    const baton = fixture.baton({ logger });
    const deaf = baton.task({ name: 'deaf', timeout: 100, retries: 0 }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 300)); // ignores ctx.signal
      return 'late';
    });
    const worker = baton.worker({ name: 'w', slots: 1, pollInterval: '20ms', tasks: [deaf] });
    await worker.start();
    const handle = await deaf.enqueue();
    await waitForState(handle, 'TimedOut');
    const line = await waitFor(() => warnings.find((w) => w.fields.runId === handle.id && /discarded/.test(String(w.message))), {
      message: 'a warning that the late result was discarded',
    });
    expect(line.fields).toMatchObject({ attempt: 0 });
    expect((await handle.state()).name).toBe('TimedOut');
    await worker.stop();
  });
});
