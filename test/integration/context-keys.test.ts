/**
 * Typed context keys (issue 7, item 6): a value set with `key.with()` is stored with
 * the runs enqueued inside and read again by `key.get()` in the worker; children
 * inherit it unless the key says not to; schemas validate it; Dates round-trip;
 * redacted values never show (logs, `handle.contextValues()`, `ctx.contextValues`,
 * the stored column) — on both stores.
 */
import { type Baton, defineContextKey, getTaskContext, ValidationError } from 'baton';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

const tenant = defineContextKey<string>('tenant');
const requestId = defineContextKey<string>('request-id', { inherit: false });
const asOf = defineContextKey<Date>('as-of');
const limits = defineContextKey<Map<string, bigint>>('limits');
const apiToken = defineContextKey<string>('api.token', { redact: true });
const pageSize = defineContextKey('page-size', { schema: z.number().int().positive() });

describe('defineContextKey', () => {
  it('reads undefined outside any scope, and the innermost value inside nested scopes', () => {
    expect(tenant.get()).toBeUndefined();
    expect(() => tenant.require()).toThrow(/context key "tenant" has no value/);
    tenant.with('outer', () => {
      expect(tenant.get()).toBe('outer');
      tenant.with('inner', () => expect(tenant.get()).toBe('inner'));
      expect(tenant.get()).toBe('outer');
    });
  });

  it('keeps its value across awaits and timers inside the scope', async () => {
    const seen = await tenant.with('acme', async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return tenant.get();
    });
    expect(seen).toBe('acme');
  });

  it('validates with its schema at with() time, naming the key', () => {
    expect(() => pageSize.with(-1 as number, () => 'never')).toThrow(ValidationError);
    expect(() => pageSize.with(1.5, () => 'never')).toThrow(/context key "page-size" is invalid/);
    expect(pageSize.with(50, () => pageSize.get())).toBe(50);
  });

  it('refuses bad names and unknown options', () => {
    expect(() => defineContextKey('has space')).toThrow(TypeError);
    expect(() => defineContextKey('ok', { inherti: true } as never)).toThrow(/unknown option "inherti"/);
  });
});

describeEachStore('typed context keys', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function startWorker(tasks: Parameters<Baton['worker']>[0]['tasks']) {
    const worker = baton.worker({ name: 'w1', slots: 8, pollInterval: '20ms', shutdownTimeout: '2s', tasks });
    await worker.start();
    return worker;
  }

  it('the value the enqueuer set is what key.get() returns in the task, and children inherit it', async () => {
    const child = baton.task({ name: 'child' }, async () => ({ tenant: tenant.get(), requestId: requestId.get() }));
    const parent = baton.task({ name: 'parent' }, async () => {
      const seen = { tenant: tenant.get(), requestId: requestId.get() };
      const inherited = await (await child.enqueue(undefined)).result({ timeout: '5s' });
      // An explicit scope inside the task applies to what is enqueued there, whatever `inherit` says.
      const explicit = await requestId.with('req-2', async () => (await child.enqueue(undefined)).result({ timeout: '5s' }));
      const detached = await (await child.enqueue(undefined, { detached: true })).result({ timeout: '5s' });
      return { seen, inherited, explicit, detached };
    });
    await startWorker([parent, child]);
    const handle = await tenant.with('acme', () => requestId.with('req-1', () => parent.enqueue(undefined)));
    expect(await handle.result({ timeout: '10s' })).toEqual({
      seen: { tenant: 'acme', requestId: 'req-1' },
      inherited: { tenant: 'acme', requestId: undefined }, // inherit: false is not passed on
      explicit: { tenant: 'acme', requestId: 'req-2' },
      detached: { tenant: undefined, requestId: undefined },
    });
    expect(await handle.contextValues()).toEqual({ tenant: 'acme', 'request-id': 'req-1' });
  });

  it('Dates, Maps and BigInts round-trip through the store', async () => {
    const task = baton.task({ name: 'dated' }, async () => {
      const when = asOf.get();
      const map = limits.get();
      return { isDate: when instanceof Date, time: when?.getTime(), isMap: map instanceof Map, cap: map?.get('cap') };
    });
    await startWorker([task]);
    const date = new Date('2030-01-02T03:04:05.678Z');
    const handle = await asOf.with(date, () => limits.with(new Map([['cap', 10n ** 20n]]), () => task.enqueue(undefined)));
    expect(await handle.result({ timeout: '5s' })).toEqual({ isDate: true, time: date.getTime(), isMap: true, cap: 10n ** 20n });
    const view = await handle.contextValues();
    expect(view['as-of']).toEqual(date);
  });

  it('a redacted value reaches the task but shows as [redacted] in logs, views and the stored column', async () => {
    let inTask: unknown;
    let view: unknown;
    const task = baton.task({ name: 'secretive' }, async (_: null, ctx) => {
      inTask = apiToken.get();
      view = ctx.contextValues;
      await ctx.log(`calling the API with ${apiToken.get()}`, {
        token: apiToken.get(),
        nested: { header: `Bearer ${apiToken.get()}` },
      });
      return 'done';
    });
    await startWorker([task]);
    const handle = await tenant.with('acme', () => apiToken.with('sk-live-123456', () => task.enqueue(null)));
    expect(await handle.result({ timeout: '5s' })).toBe('done');
    expect(inTask).toBe('sk-live-123456');
    expect(view).toEqual({ tenant: 'acme', 'api.token': '[redacted]' });
    expect(await handle.contextValues()).toEqual({ tenant: 'acme', 'api.token': '[redacted]' });
    const [line] = await handle.logs();
    expect(line?.message).toBe('calling the API with [redacted]');
    expect(line?.fields).toEqual({ token: '[redacted]', nested: { header: 'Bearer [redacted]' } });
    const stored = await (await baton.store()).getRun('default', handle.id);
    expect(stored?.contextValues).toContain('acme');
    expect(stored?.contextValues).not.toContain('sk-live-123456');
  });

  it('redacted values are inherited by children (sealed again) and still readable there', async () => {
    const child = baton.task({ name: 'child' }, async () => apiToken.get());
    const parent = baton.task({ name: 'parent' }, async () => (await child.enqueue(undefined)).result({ timeout: '5s' }));
    await startWorker([parent, child]);
    const handle = await apiToken.with('sk-child', () => parent.enqueue(undefined));
    expect(await handle.result({ timeout: '5s' })).toBe('sk-child');
  });

  it('workflow tasks and a replayed run get the values of the enqueue', async () => {
    const seen: unknown[] = [];
    const wf = baton.workflow<null>({ name: 'wf' });
    wf.task({ name: 'only' }, async () => {
      seen.push(tenant.get());
      return getTaskContext()?.contextValues;
    });
    await startWorker([wf]);
    const handle = await tenant.with('globex', () => wf.enqueue(null));
    expect(await handle.result({ timeout: '5s' })).toEqual({ only: { tenant: 'globex' } });
    const replayed = await handle.replay();
    await replayed.result({ timeout: '5s' });
    expect(seen).toEqual(['globex', 'globex']);
  });

  it('a timer left behind by an ended attempt no longer sees the run values', async () => {
    let resolveLeftover: (value: unknown) => void = () => {};
    const leftover = new Promise((resolve) => {
      resolveLeftover = resolve;
    });
    const task = baton.task({ name: 'leaky' }, async () => {
      setTimeout(async () => {
        // Once the attempt has ended its context is closed (getTaskContext() turns undefined).
        await waitFor(() => getTaskContext() === undefined);
        resolveLeftover(tenant.get());
      }, 0);
      return tenant.get();
    });
    await startWorker([task]);
    const handle = await tenant.with('acme', () => task.enqueue(undefined));
    expect(await handle.result({ timeout: '5s' })).toBe('acme');
    expect(await leftover).toBeUndefined();
  });
});
