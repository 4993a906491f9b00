/**
 * Schedules (DESIGN.md §2.4, §2.13 "Schedules", issue 4): crons from `on.crons`
 * and one-off `baton.schedule()`, persisted, fired at most once per scheduled
 * time across workers, misfire policies after downtime — driven by a TestClock,
 * on both stores.
 */
import { type Baton, type TaskContext, ValidationError } from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor } from '../support/wait.js';

const START = new Date('2030-01-01T00:00:00.000Z');

describeEachStore('schedules', (backend: BackendName) => {
  let fixture: StoreFixture;
  let clock: TestClock;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    clock = new TestClock(START);
    baton = fixture.baton({ clock, sweepInterval: '1s' });
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  type Cron = string | { cron: string; overlap?: 'skip' | 'queue' | 'cancel-previous'; misfire?: 'run-once' | 'skip' };

  function cronWorkflow(on: Baton, cron: Cron, seen: TaskContext['trigger'][], name = 'ticker') {
    const wf = on.workflow({ name, on: { crons: [cron] } });
    wf.task({ name: 'work' }, async (_input, ctx) => {
      seen.push(ctx.trigger);
    });
    return wf;
  }

  async function startWorker(on: Baton, tasks: Parameters<Baton['worker']>[0]['tasks']) {
    const worker = on.worker({ name: 'w', pollInterval: '20ms', shutdownTimeout: '2s', tasks });
    await worker.start();
    return worker;
  }

  async function workflowRuns(on: Baton, name: string) {
    const page = await on.runs.list({ limit: 1000 });
    return page.items.filter((r) => r.taskName === name);
  }

  it('fires a cron at each tick of a moved clock, exactly once across two workers', async () => {
    const seen: TaskContext['trigger'][] = [];
    const other = fixture.baton({ clock, sweepInterval: '1s' });
    const cron: Cron = { cron: '*/5 * * * *', overlap: 'queue' };
    await startWorker(baton, [cronWorkflow(baton, cron, seen)]);
    await startWorker(other, [cronWorkflow(other, cron, seen)]);
    const [schedule] = await baton.schedules.list();
    expect(schedule).toMatchObject({ kind: 'cron', cron: '*/5 * * * *', timezone: 'UTC', fromCode: true, target: 'ticker' });
    expect(schedule?.nextFireAt).toEqual(new Date('2030-01-01T00:05:00.000Z'));
    expect(await other.schedules.list()).toHaveLength(1);

    await clock.advance('15m');
    await waitFor(() => seen.length >= 3, { timeout: 10_000, message: 'three cron runs' });
    const runs = await waitFor(async () => {
      const rows = await workflowRuns(baton, 'ticker');
      return rows.every((r) => r.state.name === 'Completed') ? rows : undefined;
    });
    expect(runs).toHaveLength(3);
    expect(seen).toHaveLength(3);
    const times = seen.map((t) => (t.kind === 'cron' ? t.scheduledAt.toISOString() : t.kind)).sort();
    expect(times).toEqual(['2030-01-01T00:05:00.000Z', '2030-01-01T00:10:00.000Z', '2030-01-01T00:15:00.000Z']);
    expect(seen[0]).toMatchObject({ kind: 'cron', expression: '*/5 * * * *' });
    expect((await baton.schedules.list())[0]?.nextFireAt).toEqual(new Date('2030-01-01T00:20:00.000Z'));
  });

  for (const misfire of ['run-once', 'skip'] as const) {
    it(`misfire ${misfire}: after downtime over several ticks it fires ${misfire === 'run-once' ? 'once' : 'nothing'}`, async () => {
      const seen: TaskContext['trigger'][] = [];
      await startWorker(baton, [cronWorkflow(baton, { cron: '*/5 * * * *', misfire }, seen)]);
      await baton.close();
      await clock.advance('1h'); // nobody runs a scheduler: 12 ticks are missed
      const next = fixture.baton({ clock, sweepInterval: '1s' });
      await startWorker(next, [cronWorkflow(next, { cron: '*/5 * * * *', misfire }, seen)]);
      const [schedule] = await next.schedules.list();
      expect(schedule?.nextFireAt).toEqual(new Date('2030-01-01T01:05:00.000Z'));
      if (misfire === 'run-once') {
        await waitFor(() => seen.length === 1, { timeout: 10_000, message: 'one catch-up run' });
        expect(seen[0]).toMatchObject({ kind: 'cron', scheduledAt: new Date('2030-01-01T01:00:00.000Z') });
      }
      expect(await workflowRuns(next, 'ticker')).toHaveLength(misfire === 'run-once' ? 1 : 0);
    });
  }

  it('fires a one-off schedule once at its time; list and delete', async () => {
    const ran: { input: unknown; trigger: TaskContext['trigger'] }[] = [];
    const task = baton.task<{ n: number }>({ name: 'once' }, async (input, ctx) => {
      ran.push({ input, trigger: ctx.trigger });
    });
    await startWorker(baton, [task]);
    const at = new Date(START.getTime() + 60_000);
    const info = await baton.schedule(task, { n: 1 }, { at });
    const doomed = await baton.schedule(task, { n: 2 }, { at });
    expect(info).toMatchObject({ kind: 'once', target: 'once', nextFireAt: at, fromCode: false });
    expect((await baton.schedules.list()).map((s) => s.id).sort()).toEqual([info.id, doomed.id].sort());
    expect(await baton.schedules.delete(doomed.id)).toBe(true);
    expect(await baton.schedules.delete(doomed.id)).toBe(false);

    await clock.advance('59s');
    expect(await workflowRuns(baton, 'once')).toHaveLength(0);
    await clock.advance('1s');
    await waitFor(() => ran.length === 1, { timeout: 10_000, message: 'the scheduled run' });
    expect(ran[0]).toEqual({ input: { n: 1 }, trigger: { kind: 'schedule', scheduleId: info.id } });
    await clock.advance('1h');
    expect(await workflowRuns(baton, 'once')).toHaveLength(1);
    expect((await baton.schedules.get(info.id))?.nextFireAt).toBeNull();
  });

  it('survives a restart: a new instance on the same database fires it', async () => {
    const task = baton.task({ name: 'later' }, async () => 'done');
    const info = await baton.schedule(task, undefined, { at: new Date(START.getTime() + 3_600_000) });
    await baton.close();
    const next = fixture.baton({ clock, sweepInterval: '1s' });
    const again = next.task({ name: 'later' }, async () => 'done');
    await startWorker(next, [again]);
    expect((await next.schedules.list()).map((s) => s.id)).toEqual([info.id]);
    await clock.advance('1h');
    const runs = await waitFor(async () => {
      const rows = await workflowRuns(next, 'later');
      return rows.length === 1 && rows[0]?.state.name === 'Completed' ? rows : undefined;
    });
    expect(runs).toHaveLength(1);
  });

  it('overlap skip: no fire while the previous run is live; cancel-previous cancels it', async () => {
    const release = deferred();
    let started = 0;
    const skipper = baton.workflow({ name: 'skipper', on: { crons: [{ cron: '* * * * *', overlap: 'skip' }] } });
    skipper.task({ name: 'slow' }, async () => {
      started++;
      await release.promise;
    });
    const canceller = baton.workflow({ name: 'canceller', on: { crons: [{ cron: '* * * * *', overlap: 'cancel-previous' }] } });
    canceller.task(
      { name: 'slow' },
      (_input, ctx) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve())),
    );
    await startWorker(baton, [skipper, canceller]);

    await clock.advance('1m');
    await waitFor(() => started === 1, { message: 'the first skipper run' });
    const [firstCancellable] = await waitFor(async () => {
      const rows = await workflowRuns(baton, 'canceller');
      return rows.length === 1 ? rows : undefined;
    });
    await clock.advance('1m');
    expect(await workflowRuns(baton, 'skipper')).toHaveLength(1);
    const cancelled = await waitFor(async () => {
      const rows = await workflowRuns(baton, 'canceller');
      const first = rows.find((r) => r.id === firstCancellable?.id);
      return rows.length === 2 && first?.state.type === 'CANCELLED' ? rows : undefined;
    });
    expect(cancelled).toHaveLength(2);

    release.resolve();
    await waitFor(async () => (await workflowRuns(baton, 'skipper'))[0]?.state.name === 'Completed', {
      message: 'the skipper run to end',
    });
    await clock.advance('1m');
    await waitFor(() => started === 2, { message: 'the next skipper run' });
    expect(await workflowRuns(baton, 'skipper')).toHaveLength(2);
  });

  it('refuses a bad cron at definition time, naming it', () => {
    expect(() => baton.workflow({ name: 'bad', on: { crons: ['*/5 * * *'] } })).toThrow(ValidationError);
    expect(() => baton.workflow({ name: 'bad', on: { crons: ['61 * * * *'] } })).toThrow(/61 \* \* \* \*/);
    expect(() => baton.workflow({ name: 'bad', on: { crons: [{ cron: '* * * * *', timezone: 'Nowhere/Else' }] } })).toThrow(
      ValidationError,
    );
  });
});
