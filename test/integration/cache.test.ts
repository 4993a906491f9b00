/**
 * Task caching (DESIGN.md §2.7) on both stores: hits end Cached with the
 * earlier output, misses compute, entries expire, refresh recomputes, and
 * identical runs at once compute once while the others wait for it.
 */
import { type Baton, ValidationError, type Worker } from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor } from '../support/wait.js';

describeEachStore('caching', (backend: BackendName) => {
  let fixture: StoreFixture;
  const workers: Worker[] = [];

  beforeEach(async () => {
    fixture = await createFixture(backend);
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await fixture.cleanup();
  });

  async function startWorker(baton: Baton, tasks: Parameters<Baton['worker']>[0]['tasks'], slots = 8): Promise<Worker> {
    const worker = baton.worker({ name: `w${workers.length}`, slots, pollInterval: '20ms', shutdownTimeout: '1s', tasks });
    await worker.start();
    workers.push(worker);
    return worker;
  }

  it('a second run with the same input ends Cached with the first output, without executing', async () => {
    const baton = fixture.baton();
    let calls = 0;
    const square = baton.task({ name: 'square', cache: { key: 'inputs' } }, async (n: number) => {
      calls++;
      return { n: n * n, at: new Date(1_000) };
    });
    await startWorker(baton, [square]);
    const first = await square.enqueue(4);
    await expect(first.result()).resolves.toEqual({ n: 16, at: new Date(1_000) });
    const second = await square.enqueue(4);
    await expect(second.result()).resolves.toEqual({ n: 16, at: new Date(1_000) });
    const state = await second.state();
    expect(state).toMatchObject({ name: 'Cached', type: 'COMPLETED' });
    expect((await second.states()).at(-1)?.message).toContain(first.id);
    expect(calls).toBe(1);
    await expect(square.run(5)).resolves.toMatchObject({ n: 25 });
    expect(calls).toBe(2);
  });

  it('entries expire after ttl, and refresh recomputes and replaces them', async () => {
    const clock = new TestClock(new Date('2030-01-01T00:00:00.000Z'));
    const baton = fixture.baton({ clock });
    let version = 0;
    const rate = baton.task({ name: 'exchange-rate', cache: { key: 'inputs', ttl: '1h' } }, async (_pair: string) => ++version);
    const fresh = baton.task(
      { name: 'exchange-rate-fresh', cache: { key: () => 'EURUSD', refresh: true } },
      async (_pair: string) => ++version,
    );
    await startWorker(baton, [rate, fresh]);
    await expect(rate.run('EURUSD')).resolves.toBe(1);
    await clock.advance('59m');
    await expect(rate.run('EURUSD')).resolves.toBe(1);
    await clock.advance('2m');
    await expect(rate.run('EURUSD')).resolves.toBe(2);
    await expect(fresh.run('a')).resolves.toBe(3);
    await expect(fresh.run('b')).resolves.toBe(4);
  });

  it('a key function decides what counts as the same run', async () => {
    const baton = fixture.baton();
    let calls = 0;
    const render = baton.task(
      { name: 'render', cache: { key: (input: { doc: string; requestId: string }) => `doc:${input.doc}` } },
      async (input: { doc: string; requestId: string }) => {
        calls++;
        return `<h1>${input.doc}</h1>`;
      },
    );
    await startWorker(baton, [render]);
    await render.run({ doc: 'a', requestId: '1' });
    await render.run({ doc: 'a', requestId: '2' });
    await render.run({ doc: 'b', requestId: '3' });
    expect(calls).toBe(2);
  });

  it('identical runs at once compute once; the others wait and end Cached', async () => {
    const baton = fixture.baton();
    const gate = deferred<void>();
    let calls = 0;
    const define = (b: Baton) =>
      b.task({ name: 'expensive', cache: { key: 'inputs' } }, async (n: number) => {
        calls++;
        await gate.promise;
        return n * 10;
      });
    const task = define(baton);
    const other = fixture.baton();
    await startWorker(baton, [task], 4);
    await startWorker(other, [define(other)], 4);
    const handles = await task.enqueueMany(Array.from({ length: 6 }, () => ({ input: 7 })));
    const waiting = await waitFor(async () => {
      const states = await Promise.all(handles.map((h) => h.state()));
      return states.find((s) => s.waitingOn?.reason === 'cache');
    });
    expect(waiting.waitingOn?.message).toContain('computing the same cache key');
    gate.resolve();
    await expect(Promise.all(handles.map((h) => h.result()))).resolves.toEqual([70, 70, 70, 70, 70, 70]);
    expect(calls).toBe(1);
    const names = (await Promise.all(handles.map((h) => h.state()))).map((s) => s.name);
    expect(names.filter((n) => n === 'Completed')).toHaveLength(1);
    expect(names.filter((n) => n === 'Cached')).toHaveLength(5);
  });

  it('when the computing run fails, a waiting run computes it itself', async () => {
    const baton = fixture.baton();
    const gate = deferred<void>();
    let calls = 0;
    const flaky = baton.task({ name: 'flaky', cache: { key: 'inputs' } }, async (n: number) => {
      calls++;
      if (calls === 1) {
        await gate.promise;
        throw new Error('first computation failed');
      }
      return n;
    });
    await startWorker(baton, [flaky]);
    const first = await flaky.enqueue(1);
    await waitFor(async () => (await first.state()).name === 'Running');
    const second = await flaky.enqueue(1);
    await waitFor(async () => (await second.state()).waitingOn?.reason === 'cache');
    gate.resolve();
    await expect(first.result()).rejects.toThrow('first computation failed');
    await expect(second.result()).resolves.toBe(1);
    expect((await second.state()).name).toBe('Completed');
  });

  it("cache 'none' computes every time, and bad cache options throw naming the key", async () => {
    const baton = fixture.baton();
    let calls = 0;
    const plain = baton.task({ name: 'plain', cache: { key: 'none' } }, async () => ++calls);
    await startWorker(baton, [plain]);
    await plain.run(undefined);
    await plain.run(undefined);
    expect(calls).toBe(2);
    const bad: [object, string][] = [
      [{ cache: { key: 'input' } }, 'cache.key'],
      [{ cache: { key: 'inputs', ttl: 0 } }, 'cache.ttl'],
      [{ cache: { key: 'inputs', forever: true } }, 'cache.forever'],
      [{ cache: 'inputs' }, 'cache'],
    ];
    for (const [options, path] of bad) {
      expect(() => baton.task({ name: 'bad-cache', ...options } as never, async () => undefined), path).toThrow(ValidationError);
      expect(() => baton.task({ name: 'bad-cache', ...options } as never, async () => undefined), path).toThrow(path);
    }
  });
});
