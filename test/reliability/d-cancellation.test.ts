/**
 * RELIABILITY.md section D, cancellation races, on SQLite and PostgreSQL:
 * #18 cancel a running durable task (inside step b of a, b, c): its signal aborts within H, it
 *     ends Cancelled, step c never runs; a handler deaf to its signal that completes after the
 *     cancel commit (while Cancelling, or after its grace period ended it Cancelled) leaves it Cancelled.
 *     "Within H" allows 250 ms for the heartbeat's query and timers (SQLite has no cross-process
 *     wake-up: the worker hears of the cancel at its next heartbeat).
 * #19 cancel vs. complete: cancel issued at a random offset in [−5, +5] ms of the handler's return
 *     (in-test worker); each run ends Completed or Cancelled, as its first committed transition
 *     says, with exactly one terminal transition (I2) and exactly one terminal hook call
 *     (onCompletion or onCancellation). 200 iterations by default, 1,000 under RELIABILITY_FULL.
 * #20 cascade cancel: a plain parent with 100 linked children, 30 of them running, and a 3-level
 *     workflow DAG (l1 → l2a, l2b → l3) with level 2 running: cancelling the parent (the workflow
 *     run) ends every descendant Cancelled within 2 s; no descendant attempt starts after the
 *     cancel commit; the worker's slots are free again at once.
 * #21 cancel a durable sleep (1 h and 3 s) and an event wait: Cancelled at once (< 2 s), with no
 *     wake time and no event_waits rows left; the matching event and the short sleep's due time
 *     (which wake the uncancelled control runs) do not resurrect them.
 */
import { type Baton, type RunHandle, runOutsideTaskContext } from 'baton';
import { afterEach, expect, it } from 'vitest';
import { type BackendName, describeEachStore } from '../support/stores.js';
import { waitFor, waitForState } from '../support/wait.js';
import { CdWorkers, captureStderr, logLinesOf } from './fixtures/cd-processes.js';
import { createScenario, FULL, LEASE_MS, remoteTask, report, type Scenario, seededRandom } from './support/harness.js';

const HEARTBEAT_MS = LEASE_MS / 3;
/** Timer and query latency allowed on top of H for a signal that waits for the next heartbeat. */
const HEARTBEAT_SLACK_MS = 250;
const RACE_ITERATIONS = FULL ? 1_000 : 200;
/** Races run this many at a time (fewer keeps the timers close to their offsets). */
const RACE_BATCH = 4;
const TERMINAL = ['Completed', 'Cached', 'Skipped', 'Failed', 'TimedOut', 'Crashed', 'Cancelled'];

interface StateRow {
  run_id: string;
  name: string;
  at: number;
  message: string | null;
}

describeEachStore('D. cancellation races', (backend: BackendName) => {
  let scenario: Scenario;
  let baton: Baton;
  let cdWorkers: CdWorkers;

  async function setUp(): Promise<void> {
    scenario = await createScenario(backend);
    baton = scenario.baton();
    cdWorkers = new CdWorkers();
  }

  afterEach(async () => {
    await cdWorkers?.killAll();
    await scenario?.cleanup();
  });

  async function statesOf(runIds: readonly string[]): Promise<StateRow[]> {
    if (runIds.length === 0) return [];
    const list = runIds.map((_, i) => `$${i + 1}`).join(', ');
    const rows = await scenario.sql<StateRow>(
      `SELECT run_id, name, at, message FROM run_states WHERE run_id IN (${list}) ORDER BY id`,
      [...runIds],
    );
    return rows.map((r) => ({ ...r, at: Number(r.at) }));
  }

  async function statusOf(runId: string): Promise<string | undefined> {
    const [row] = await scenario.sql<{ status: string }>('SELECT status FROM runs WHERE id = $1', [runId]);
    return row?.status;
  }

  async function assertAll(): Promise<void> {
    expect(cdWorkers.crashed()).toEqual([]);
    await scenario.assertInvariants();
  }

  it('#18 cancel a running durable task: signal aborts within H, Cancelled, step c never runs; completions after the cancel commit leave it Cancelled', async () => {
    await setUp();
    const w1 = await cdWorkers.start(scenario, 'w1', { WORKER_TASKS: 'stepshold,cdhold,cddeaf' });
    const stderr = captureStderr(w1);

    // (a) A cooperative durable run, cancelled inside step b.
    const stepshold = remoteTask<{ holdMs: number }, string>(baton, 'stepshold', 'durable');
    const run = await stepshold.enqueue({ holdMs: 60_000 });
    await waitFor(() => scenario.calls({ runId: run.id, step: 'b' }).length === 1, {
      timeout: 15_000,
      message: 'step b to start',
    });
    const cancelAt = Date.now();
    await run.cancel('test cancels inside step b');
    const aborted = await waitFor(() => scenario.calls({ runId: run.id, step: 'aborted' })[0], {
      timeout: HEARTBEAT_MS + 5_000,
      message: 'the handler signal to abort',
    });
    const abortedAfter = aborted.at - cancelAt;
    expect(abortedAfter).toBeLessThanOrEqual(HEARTBEAT_MS + HEARTBEAT_SLACK_MS);
    await waitForState(run, 'Cancelled', { timeout: 5_000 });

    // (b) A deaf handler completing while the run is Cancelling (grace 10 s): the cancel wins.
    const cdhold = remoteTask<{ ms: number; ignoreSignal?: boolean }, string>(baton, 'cdhold');
    const deafInGrace = await cdhold.enqueue({ ms: 2_500, ignoreSignal: true });
    await waitFor(() => scenario.calls({ runId: deafInGrace.id }).length > 0, { timeout: 15_000, message: 'cdhold to start' });
    await deafInGrace.cancel('test cancels a deaf handler');
    const doneInGrace = await waitFor(() => scenario.calls({ runId: deafInGrace.id, step: 'done' })[0], {
      timeout: 10_000,
      message: 'the deaf handler to complete',
    });
    await waitForState(deafInGrace, 'Cancelled', { timeout: 5_000 });

    // (c) A deaf handler abandoned after its 1 s grace period, completing after Cancelled was committed.
    // The grace period is stamped on the run at enqueue, from the enqueuer's definition.
    const cddeaf = baton.task(
      { name: 'cddeaf', retries: 0, cancelGracePeriod: '1s' },
      async (_input: { ms: number }): Promise<string> => {
        throw new Error('cddeaf runs in the worker fixture');
      },
    );
    const deafLate = await cddeaf.enqueue({ ms: 3_500 });
    await waitFor(() => scenario.calls({ runId: deafLate.id }).length > 0, { timeout: 15_000, message: 'cddeaf to start' });
    await deafLate.cancel('test cancels a deaf handler with a short grace');
    await waitForState(deafLate, 'Cancelled', { timeout: 1_000 + HEARTBEAT_MS + 5_000 });
    const doneLate = await waitFor(() => scenario.calls({ runId: deafLate.id, step: 'done' })[0], {
      timeout: 10_000,
      message: 'the abandoned handler to complete',
    });
    await waitFor(() => logLinesOf(stderr(), deafLate.id).some((l) => /discarded/.test(String(l.msg))), {
      timeout: 5_000,
      message: 'w1 to log the discarded late completion',
    });

    // (a): steps a and b ran once, c never (not in the oracle, not recorded), even seconds later.
    expect(scenario.calls({ runId: run.id, step: 'a' })).toHaveLength(1);
    expect(scenario.calls({ runId: run.id, step: 'b' })).toHaveLength(1);
    expect(scenario.calls({ runId: run.id, step: 'c' })).toEqual([]);
    const steps = await scenario.sql<{ step_key: string }>('SELECT step_key FROM steps WHERE run_id = $1', [run.id]);
    expect(steps.map((s) => s.step_key).filter((k) => k.startsWith('c'))).toEqual([]);
    expect(steps.map((s) => s.step_key).some((k) => k.startsWith('a'))).toBe(true);

    // (b) and (c): the completions came after the cancel commit and changed nothing.
    const states = await statesOf([run.id, deafInGrace.id, deafLate.id]);
    const of = (id: string) => states.filter((s) => s.run_id === id);
    for (const id of [run.id, deafInGrace.id, deafLate.id]) {
      expect(
        of(id)
          .filter((s) => TERMINAL.includes(s.name))
          .map((s) => s.name),
      ).toEqual(['Cancelled']);
      expect(await statusOf(id)).toBe('Cancelled');
    }
    const cancellingInGrace = of(deafInGrace.id).find((s) => s.name === 'Cancelling');
    expect(cancellingInGrace?.at).toBeLessThan(doneInGrace.at);
    const cancelledLate = of(deafLate.id).find((s) => s.name === 'Cancelled');
    expect(cancelledLate?.message).toMatch(/abandoned/);
    expect(cancelledLate?.at).toBeLessThan(doneLate.at);
    for (const id of [deafInGrace.id, deafLate.id]) {
      const [row] = await scenario.sql<{ output: string | null }>('SELECT output FROM runs WHERE id = $1', [id]);
      expect(row?.output ?? null).toBeNull();
      const attempts = await scenario.sql<{ outcome: string }>('SELECT outcome FROM attempts WHERE run_id = $1', [id]);
      expect(attempts.map((a) => a.outcome)).toEqual(['cancelled']);
    }

    report(
      `#18 ${backend}: signal aborted ${abortedAfter} ms after cancel (bound H=${HEARTBEAT_MS}+${HEARTBEAT_SLACK_MS} ms); step c never ran; completions ${doneInGrace.at - (cancellingInGrace?.at ?? 0)} ms after Cancelling and ${doneLate.at - (cancelledLate?.at ?? 0)} ms after Cancelled left both Cancelled`,
    );
    await assertAll();
  });

  it(`#19 cancel vs. complete race, ${RACE_ITERATIONS} iterations${FULL ? '' : ' (CI size; 1,000 under RELIABILITY_FULL)'}: one terminal transition and one terminal hook per run, as first committed`, async () => {
    await setUp();
    const RETURN_MS = 20;
    const seed = Date.now() >>> 0;
    const random = seededRandom(seed);
    /** Called by the handler as it starts, in the same tick as it arms its own return timer. */
    const onStart = new Map<number, () => void>();
    const returnedAt = new Map<number, number>();
    const hooks = new Map<string, string[]>();
    const note = (runId: string, hook: string) => hooks.set(runId, [...(hooks.get(runId) ?? []), hook]);
    const race = baton.task(
      {
        name: 'race',
        retries: 0,
        hooks: {
          onCompletion: (ctx) => note(ctx.taskRunId, 'completion'),
          onCancellation: (ctx) => note(ctx.taskRunId, 'cancellation'),
          onFailure: (ctx) => note(ctx.taskRunId, 'failure'),
        },
      },
      async (input: { i: number }) => {
        onStart.get(input.i)?.();
        // Deaf to the signal: the race is between this return and the cancel, not a cooperative abort.
        await new Promise((resolve) => setTimeout(resolve, RETURN_MS));
        returnedAt.set(input.i, performance.now());
        return input.i;
      },
    );
    const worker = baton.worker({ name: 'racer', slots: 10, lease: LEASE_MS, pollInterval: 20, tasks: [race] });
    await worker.start();

    const offsets: number[] = [];
    async function iteration(i: number): Promise<RunHandle<number>> {
      const offset = -5 + 10 * random();
      let enqueued!: Promise<RunHandle<number>>;
      // The cancel timer is armed in the tick the handler arms its return timer, so their order is exact.
      const cancelled = new Promise<number>((resolve, reject) => {
        onStart.set(i, () => {
          runOutsideTaskContext(() =>
            setTimeout(() => {
              const at = performance.now();
              enqueued.then((h) => h.cancel('race')).then(() => resolve(at), reject);
            }, RETURN_MS + offset),
          );
        });
      });
      enqueued = race.enqueue({ i });
      const handle = await enqueued;
      const cancelAt = await cancelled;
      await waitForState(handle, ['Completed', 'Cancelled', 'Failed'], { timeout: 15_000 });
      offsets.push(cancelAt - (returnedAt.get(i) ?? Number.NaN));
      return handle;
    }
    const handles: RunHandle<number>[] = [];
    for (let i = 0; i < RACE_ITERATIONS; i += RACE_BATCH) {
      const batch = Array.from({ length: Math.min(RACE_BATCH, RACE_ITERATIONS - i) }, (_, j) => iteration(i + j));
      handles.push(...(await Promise.all(batch)));
    }
    const ids = handles.map((h) => h.id);
    // Hooks run after the settlement commits: wait for one per run, then check there is only one.
    await waitFor(() => ids.every((id) => (hooks.get(id)?.length ?? 0) >= 1), {
      timeout: 10_000,
      message: 'a terminal hook per run',
    });
    await worker.stop();

    const states = await statesOf(ids);
    const runs = await scenario.sql<{ id: string; status: string }>(`SELECT id, status FROM runs WHERE task_name = 'race'`);
    const status = new Map(runs.map((r) => [r.id, r.status]));
    const counts = { Completed: 0, Cancelled: 0 };
    const problems: string[] = [];
    for (const id of ids) {
      const mine = states.filter((s) => s.run_id === id).map((s) => s.name);
      const terminal = mine.filter((n) => TERMINAL.includes(n));
      const first = mine.find((n) => n === 'Completed' || n === 'Cancelling' || n === 'Cancelled');
      const expected = first === 'Completed' ? 'Completed' : 'Cancelled';
      const final = status.get(id);
      if (final !== 'Completed' && final !== 'Cancelled') problems.push(`${id} ended ${final}`);
      else counts[final]++;
      if (terminal.length !== 1) problems.push(`${id} has terminal transitions ${terminal.join(', ')}`);
      if (final !== expected) problems.push(`${id} is ${final} but its first committed transition was ${first}`);
      if (mine.includes('Completed') && mine.includes('Cancelled')) problems.push(`${id} shows both Completed and Cancelled`);
      const called = hooks.get(id) ?? [];
      const wanted = final === 'Completed' ? ['completion'] : ['cancellation'];
      if (called.join() !== wanted.join()) problems.push(`${id} (${final}) had hooks [${called.join(', ')}]`);
    }
    expect(problems).toEqual([]);
    // Both sides of the race were exercised, or the test proved nothing.
    expect(counts.Completed).toBeGreaterThan(0);
    expect(counts.Cancelled).toBeGreaterThan(0);
    const sorted = [...offsets].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]?.toFixed(1);
    const inWindow = sorted.filter((o) => o >= -5 && o <= 5).length;
    report(
      `#19 ${backend}: ${RACE_ITERATIONS} races (seed ${seed}): ${counts.Completed} Completed, ${counts.Cancelled} Cancelled; cancel call − actual return: p5 ${at(0.05)}, p50 ${at(0.5)}, p95 ${at(0.95)} ms, ${inWindow} inside ±5 ms; 0 runs with two endings or two hooks`,
    );
    await assertAll();
  });

  it('#20 cascade cancel of a parent with 100 children (30 running): all Cancelled within 2 s, none started after the cancel, slots freed', async () => {
    await setUp();
    const SLOTS = 31;
    await cdWorkers.start(scenario, 'w1', { WORKER_TASKS: 'fanout,kid,cdhold', WORKER_SLOTS: String(SLOTS) });
    const fanout = remoteTask<{ n: number; holdMs: number }, number>(baton, 'fanout');
    const parent = await fanout.enqueue({ n: 100, holdMs: 60_000 });
    const kidStarts = () => scenario.calls({ task: 'kid' }).filter((c) => c.step === undefined);
    await waitFor(() => kidStarts().length === SLOTS - 1, { timeout: 30_000, message: '30 children running' });
    const kids = await scenario.sql<{ id: string; status: string }>('SELECT id, status FROM runs WHERE parent_run_id = $1', [
      parent.id,
    ]);
    expect(kids).toHaveLength(100);
    expect(kids.filter((k) => k.status === 'Running')).toHaveLength(SLOTS - 1);

    const cancelAt = Date.now();
    await parent.cancel('test cancels the parent');
    await waitFor(
      async () => {
        const rows = await scenario.sql<{ n: number }>(
          `SELECT count(*) AS n FROM runs WHERE (parent_run_id = $1 OR id = $1) AND status = 'Cancelled'`,
          [parent.id],
        );
        return Number(rows[0]?.n) === 101;
      },
      { timeout: 10_000, interval: 20, message: 'the parent and its 100 children to be Cancelled' },
    );
    const allCancelledAfter = Date.now() - cancelAt;
    expect(allCancelledAfter).toBeLessThanOrEqual(2_000);

    const [commit] = await statesOf([parent.id]).then((rows) =>
      rows.filter((s) => s.name === 'Cancelling' || s.name === 'Cancelled'),
    );
    const started = await scenario.sql<{ run_id: string; started_at: number }>(
      'SELECT a.run_id, a.started_at FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.parent_run_id = $1',
      [parent.id],
    );
    expect(started).toHaveLength(SLOTS - 1);
    expect(started.filter((a) => Number(a.started_at) > (commit?.at ?? 0))).toEqual([]);

    // The 31 slots are free: 31 new runs all start at once on the same worker.
    const cdhold = remoteTask<{ ms: number }, string>(baton, 'cdhold');
    const freedAt = Date.now();
    const fresh = await cdhold.enqueueMany(Array.from({ length: SLOTS }, () => ({ input: { ms: 60_000 } })));
    await waitFor(() => fresh.every((h) => scenario.calls({ runId: h.id }).length > 0), {
      timeout: 10_000,
      message: `${SLOTS} new runs to start on w1`,
    });
    const slotsAfter = Math.max(...fresh.map((h) => scenario.calls({ runId: h.id })[0]?.at ?? 0)) - freedAt;
    expect(slotsAfter).toBeLessThanOrEqual(2_000);
    expect(kidStarts()).toHaveLength(SLOTS - 1); // no child ran after the cancel
    report(
      `#20 ${backend} children: parent + 100 children (30 running) Cancelled ${allCancelledAfter} ms after cancel (bound 2000); 0 started after the cancel commit; ${SLOTS} slots busy again ${slotsAfter} ms later`,
    );
    await assertAll();
  });

  it('#20 cascade cancel of a 3-level workflow DAG with level 2 running: every task Cancelled within 2 s, level 3 never starts', async () => {
    await setUp();
    await cdWorkers.start(scenario, 'w1', { WORKER_TASKS: 'dag3' });
    // The same shape as the fixture's dag3, to enqueue it from here (the worker runs the real one).
    const remote = async (): Promise<never> => {
      throw new Error('dag3 runs in the worker fixture');
    };
    const dag3 = baton.workflow<{ holdMs: number }>({ name: 'dag3' });
    const l1 = dag3.task({ name: 'l1' }, remote);
    const l2a = dag3.task({ name: 'l2a', parents: [l1] }, remote);
    const l2b = dag3.task({ name: 'l2b', parents: [l1] }, remote);
    dag3.task({ name: 'l3', parents: [l2a, l2b] }, remote);
    const handle = await dag3.enqueue({ holdMs: 60_000 });
    await waitFor(() => scenario.calls({ step: 'l2a' }).length === 1 && scenario.calls({ step: 'l2b' }).length === 1, {
      timeout: 30_000,
      message: 'level 2 to run',
    });

    const cancelAt = Date.now();
    await handle.cancel('test cancels the workflow run');
    const tasks = async () =>
      scenario.sql<{ id: string; task_name: string; status: string }>(
        `SELECT id, task_name, status FROM runs WHERE workflow_run_id = $1 AND id != $1`,
        [handle.id],
      );
    await waitFor(
      async () =>
        (await statusOf(handle.id)) === 'Cancelled' &&
        (await tasks()).every((t) => t.task_name === 'l1' || t.status === 'Cancelled'),
      { timeout: 10_000, interval: 20, message: 'the workflow run and its unfinished tasks to be Cancelled' },
    );
    const allCancelledAfter = Date.now() - cancelAt;
    expect(allCancelledAfter).toBeLessThanOrEqual(2_000);
    const byName = Object.fromEntries((await tasks()).map((t) => [t.task_name, t.status]));
    expect(byName).toEqual({ l1: 'Completed', l2a: 'Cancelled', l2b: 'Cancelled', l3: 'Cancelled' });
    expect(scenario.calls({ step: 'l3' })).toEqual([]);
    expect(scenario.calls({ step: 'aborted' })).toHaveLength(2); // l2a and l2b were told

    const commit = (await statesOf([handle.id])).find((s) => s.name === 'Cancelling' || s.name === 'Cancelled');
    const started = await scenario.sql<{ started_at: number; task_name: string }>(
      'SELECT a.started_at, r.task_name FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.workflow_run_id = $1',
      [handle.id],
    );
    expect(started.map((a) => a.task_name).sort()).toEqual(['l1', 'l2a', 'l2b']);
    expect(started.filter((a) => Number(a.started_at) > (commit?.at ?? 0))).toEqual([]);
    report(
      `#20 ${backend} DAG: workflow run and levels 2–3 Cancelled ${allCancelledAfter} ms after cancel (bound 2000); l3 never started`,
    );
    await assertAll();
  });

  it('#21 cancel a 1 h sleep, a 3 s sleep and an event wait: Cancelled at once, no wait rows left; the event and the due time do not resurrect them', async () => {
    await setUp();
    await scenario.startWorker('w1', { WORKER_TASKS: 'sleeper,waiter' });
    const sleeper = remoteTask<{ ms: number }, number>(baton, 'sleeper', 'durable');
    const waiter = remoteTask<{ orderId: string }, unknown>(baton, 'waiter', 'durable');
    const longSleep = await sleeper.enqueue({ ms: 3_600_000 });
    const shortSleep = await sleeper.enqueue({ ms: 3_000 });
    const shortControl = await sleeper.enqueue({ ms: 3_000 });
    const wait = await waiter.enqueue({ orderId: 'o-21' });
    const waitControl = await waiter.enqueue({ orderId: 'o-21' });
    const all = [longSleep, shortSleep, shortControl, wait, waitControl];
    await waitFor(async () => (await Promise.all(all.map((h) => statusOf(h.id)))).every((s) => s === 'Waiting'), {
      timeout: 15_000,
      message: 'all five runs to be Waiting',
    });
    const cancelled = [longSleep, shortSleep, wait];
    const ids = cancelled.map((h) => h.id);
    const waitRows = async (runIds: string[]) => {
      const list = runIds.map((_, i) => `$${i + 1}`).join(', ');
      const timers = await scenario.sql<{ id: string }>(
        `SELECT id FROM runs WHERE id IN (${list}) AND wake_at IS NOT NULL`,
        runIds,
      );
      const waiters = await scenario.sql<{ run_id: string }>(`SELECT run_id FROM event_waits WHERE run_id IN (${list})`, runIds);
      return { timers: timers.map((r) => r.id).sort(), waiters: waiters.map((r) => r.run_id) };
    };
    // Before: the sleeps have wake times and the wait its event_waits row (so the check below can fail).
    expect(await waitRows(ids)).toEqual({ timers: [longSleep.id, shortSleep.id].sort(), waiters: [wait.id] });

    const took: number[] = [];
    for (const handle of cancelled) {
      const at = Date.now();
      await handle.cancel('test cancels a waiting run');
      expect((await handle.state()).name).toBe('Cancelled');
      took.push(Date.now() - at);
    }
    expect(Math.max(...took)).toBeLessThan(2_000);
    expect(await waitRows(ids)).toEqual({ timers: [], waiters: [] });

    // The matching event wakes the control waiter only; the short sleep's due time wakes its control only.
    await baton.events.push('order.paid', { orderId: 'o-21' });
    await waitFor(() => scenario.calls({ runId: waitControl.id, step: 'woke' }).length === 1, {
      timeout: 10_000,
      message: 'the control waiter to wake',
    });
    await waitFor(() => scenario.calls({ runId: shortControl.id, step: 'woke' }).length === 1, {
      timeout: 15_000,
      message: 'the control sleeper to wake',
    });
    await waitForState(waitControl, 'Completed', { timeout: 5_000 });
    await waitForState(shortControl, 'Completed', { timeout: 5_000 });
    for (const handle of cancelled) {
      expect(scenario.calls({ runId: handle.id, step: 'woke' })).toEqual([]);
      expect(await statusOf(handle.id)).toBe('Cancelled');
    }
    const attempts = await scenario.sql<{ run_id: string; n: number }>(
      `SELECT run_id, count(*) AS n FROM attempts WHERE run_id IN ($1, $2, $3) GROUP BY run_id`,
      ids,
    );
    expect(attempts.every((a) => Number(a.n) === 1)).toBe(true); // the one attempt that suspended; none after the cancel
    report(
      `#21 ${backend}: 1 h sleep, 3 s sleep and event wait Cancelled in ${took.join(', ')} ms; wake times and event_waits rows removed; event and due time woke only the controls`,
    );
    await assertAll();
  });
});
