/**
 * Regressions found by RELIABILITY.md section B (test/reliability/b-fencing.test.ts), on both stores:
 * #10 duplicate event delivery — `events.push(key, payload, { idempotencyKey })` (and `POST /events`
 * with `Idempotency-Key`) stores one event per key and namespace within the idempotency window: a
 * repeat, sequential or concurrent, returns the first event, stores nothing and wakes no wait; the
 * key is per namespace and can be reused once the window has passed. Also from #10: a burst of
 * concurrent pushes to one key with many durable waiters wakes every waiter without deadlocks
 * (PostgreSQL locked the waiters' rows in no particular order, each push rewrote all of them, and
 * concurrent pushes deadlocked and queued for seconds), and a waiter already due keeps its wake time.
 */
import type { Baton, WaitResult } from 'baton';
import { TestClock } from 'baton/testing';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, PG_URL, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

describeEachStore('B regressions: event idempotency keys', (backend: BackendName) => {
  let fixture: StoreFixture;
  let clock: TestClock;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    clock = new TestClock(new Date('2030-01-01T00:00:00Z'));
    baton = fixture.baton({ clock, idempotencyWindow: '1h' });
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  async function eventRows(key: string): Promise<number> {
    return (await baton.events.list({ key, limit: 1000 })).items.length;
  }

  it('a repeated push returns the first event, stores one row and wakes a waiting run once', async () => {
    const summary = (r: WaitResult) => ({ index: r.index, payload: r.event?.payload });
    const task = baton.durableTask({ name: 'pays-twice' }, async (orderId: string, ctx) => {
      const first = await ctx.waitFor('paid', { event: 'paid', filter: { orderId } });
      // A second delivery of the same event must not satisfy this wait: `closed` does.
      const second = await ctx.waitFor('again', { event: 'paid', filter: { orderId } }, { event: 'closed', filter: { orderId } });
      return [summary(first), summary(second)];
    });
    const worker = baton.worker({ name: 'w', slots: 2, pollInterval: '20ms', tasks: [task] });
    await worker.start();
    const handle = await task.enqueue('o1');
    await waitFor(async () => (await handle.state()).name === 'Waiting', { message: 'first wait' });
    const first = await baton.events.push('paid', { orderId: 'o1', n: 1 }, { idempotencyKey: 'pay-o1' });
    await waitFor(async () => (await handle.states()).filter((s) => s.name === 'Waiting').length >= 2, {
      message: 'woke and waits again',
    });
    const again = await baton.events.push('paid', { orderId: 'o1', n: 2 }, { idempotencyKey: 'pay-o1' });
    expect(again).toEqual(first);
    await baton.events.push('closed', { orderId: 'o1' });
    expect(await handle.result({ timeout: '10s' })).toEqual([
      { index: 0, payload: { orderId: 'o1', n: 1 } },
      { index: 1, payload: { orderId: 'o1' } },
    ]);
    expect(await eventRows('paid')).toBe(1);
    await worker.stop();
  });

  it('concurrent pushes of one key agree on one event; the key is per namespace and reusable after the window', async () => {
    const pushes = await Promise.all(
      Array.from({ length: 12 }, (_, n) => baton.events.push('order.paid', { n }, { idempotencyKey: 'k' })),
    );
    expect(new Set(pushes.map((e) => e.id)).size).toBe(1);
    expect(new Set(pushes.map((e) => JSON.stringify(e.payload))).size).toBe(1);
    expect(await eventRows('order.paid')).toBe(1);
    expect(await baton.events.get(pushes[0]?.id as string)).toEqual(pushes[0]);

    const other = fixture.baton({ clock, namespace: 'other', idempotencyWindow: '1h' });
    const elsewhere = await other.events.push('order.paid', { n: 'other' }, { idempotencyKey: 'k' });
    expect(elsewhere.id).not.toBe(pushes[0]?.id);

    await clock.advance('59m');
    expect((await baton.events.push('order.paid', { n: 'late' }, { idempotencyKey: 'k' })).id).toBe(pushes[0]?.id);
    await clock.advance('2m');
    const reused = await baton.events.push('order.paid', { n: 'new' }, { idempotencyKey: 'k' });
    expect(reused.id).not.toBe(pushes[0]?.id);
    expect(reused.payload).toEqual({ n: 'new' });
    expect(await eventRows('order.paid')).toBe(2);
    expect((await baton.events.push('order.paid', { n: 'x' }, { idempotencyKey: 'k' })).id).toBe(reused.id);
    await expect(baton.events.push('order.paid', {}, { idempotencyKey: '' })).rejects.toThrow(/idempotencyKey/);
  });

  it('POST /events: Idempotency-Key or idempotencyKey; 201 for the first push, 200 with the same event after', async () => {
    const token = (await baton.tokens.create({ scope: 'write' })).token;
    const { fetch } = baton.http();
    const post = async (body: unknown, headers: Record<string, string> = {}) => {
      const response = await fetch(
        new Request('http://baton.test/api/v1/events', {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        }),
      );
      return { status: response.status, body: (await response.json()) as { id: string; payload: unknown } };
    };
    const first = await post({ key: 'shipped', payload: { n: 1 } }, { 'idempotency-key': 'ship-1' });
    const second = await post({ key: 'shipped', payload: { n: 2 }, idempotencyKey: 'ship-1' });
    const plain = await post({ key: 'shipped', payload: { n: 3 } });
    expect([first.status, second.status, plain.status]).toEqual([201, 200, 201]);
    expect(second.body).toEqual(first.body);
    expect(second.body.payload).toEqual({ n: 1 });
    expect(plain.body.id).not.toBe(first.body.id);
    expect(await eventRows('shipped')).toBe(2);
  });

  /** `wake_at` of runs, read straight from the database. */
  async function wakeTimes(ids: readonly string[]): Promise<(number | null)[]> {
    if (backend === 'sqlite') {
      const db = new Database(fixture.options.database as string, { readonly: true });
      try {
        const get = db.prepare('SELECT wake_at FROM runs WHERE id = ?');
        return ids.map((id) => (get.get(id) as { wake_at: number | null }).wake_at);
      } finally {
        db.close();
      }
    }
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const result = await client.query<{ id: string; wake_at: string | null }>(
        `SELECT id, wake_at FROM "${fixture.options.schema}".runs WHERE id = ANY($1::text[])`,
        [ids],
      );
      const byId = new Map(result.rows.map((r) => [r.id, r.wake_at === null ? null : Number(r.wake_at)]));
      return ids.map((id) => byId.get(id) ?? null);
    } finally {
      await client.end();
    }
  }

  it('a burst of concurrent pushes to one key wakes every waiter, without deadlocks; a waiter already due keeps its wake time', async () => {
    const task = baton.durableTask({ name: 'burst-waiter' }, async (i: number, ctx) => {
      const result = await ctx.waitFor('go', { event: 'burst', filter: { i } });
      return (result.event as { payload: { n: number } }).payload.n % 40;
    });
    let worker = baton.worker({ name: 'w', slots: 10, pollInterval: '20ms', tasks: [task] });
    await worker.start();
    const handles = await task.enqueueMany(Array.from({ length: 40 }, (_, i) => ({ input: i })));
    await waitFor(async () => (await Promise.all(handles.map((h) => h.state()))).every((st) => st.name === 'Waiting'), {
      timeout: 20_000,
      message: '40 waiting',
    });
    // A waiter already due to wake is not rewritten by a later push (fewer row locks per push).
    await worker.stop();
    const firstAt = clock.now();
    await baton.events.push('burst', { i: -1, n: -1 });
    await clock.advance('1s');
    await baton.events.push('burst', { i: -2, n: -2 });
    expect(new Set(await wakeTimes(handles.map((h) => h.id)))).toEqual(new Set([firstAt]));

    worker = baton.worker({ name: 'w2', slots: 10, pollInterval: '20ms', tasks: [task] });
    await worker.start();
    const proto = pg.Client.prototype as unknown as { query(...args: unknown[]): unknown };
    const query = proto.query;
    let deadlocks = 0;
    proto.query = function (this: unknown, ...args: unknown[]) {
      const result = query.apply(this, args);
      if (result instanceof Promise) {
        result.catch((error: { code?: string }) => {
          if (error?.code === '40P01') deadlocks++;
        });
      }
      return result;
    };
    try {
      await Promise.all(Array.from({ length: 200 }, (_, n) => baton.events.push('burst', { i: n % 40, n })));
      expect(await Promise.all(handles.map((h) => h.result({ timeout: '30s' })))).toEqual(handles.map((_, i) => i));
    } finally {
      proto.query = query;
    }
    expect(deadlocks).toBe(0);
    await worker.stop();
  });
});

describeEachStore('B regressions: stale leases are not renewed', (backend: BackendName) => {
  let fixture: StoreFixture;
  afterEach(async () => {
    await fixture.cleanup();
  });

  // #8 variant: a worker that could not heartbeat for a lease abandons its attempts; its next
  // heartbeat renewed their leases anyway, keeping the runs away from other workers one lease longer.
  it('a worker that stalled past its lease abandons the attempt and does not renew its lease afterwards', async () => {
    fixture = await createFixture(backend);
    const baton = fixture.baton({ sweepInterval: '5s' });
    let executions = 0;
    let stallEnded = Number.POSITIVE_INFINITY;
    const stall = baton.task({ name: 'stall', retries: 0 }, async (_: null, ctx) => {
      executions++;
      if (executions > 1) return 'again';
      const until = performance.now() + 1_200;
      while (performance.now() < until) {
        // The event loop is blocked: no heartbeat can run for two leases.
      }
      stallEnded = performance.now();
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      return 'stalled';
    });
    const store = await baton.store();
    const renew = store.renewLeases.bind(store);
    const renewed: { at: number; runIds: string[] }[] = [];
    store.renewLeases = (request) => {
      renewed.push({ at: performance.now(), runIds: request.leases.map((l) => l.runId) });
      return renew(request);
    };
    const worker = baton.worker({ name: 'w', lease: '600ms', pollInterval: '20ms', tasks: [stall] });
    await worker.start();
    const handle = await stall.enqueue(null);
    await waitFor(() => renewed.some((r) => r.at > stallEnded), { message: 'a heartbeat after the stall' });
    expect(renewed.filter((r) => r.at > stallEnded && r.runIds.includes(handle.id))).toEqual([]);
    await worker.stop();
  });
});
