/**
 * RELIABILITY.md section F, clocks and durable time:
 * #27 worker clock skew ±1 h (BATON_TEST_CLOCK_OFFSET_MS, PostgreSQL): two worker processes whose
 *     clocks are an hour fast and an hour slow share 100 tasks with a 2 s timeout and 100 durable
 *     sleeps of 5 s. Asserts no lease expires early (no crash, no `lease_expired` attempt), no task
 *     runs twice, every sleep wakes within due..due+S+2s in real time, and a dead skewed worker's
 *     lease is taken over within [L−H, L+S+1s] of its death (leases follow the database's now()).
 *     SQLite does not apply: there the one machine's clock is the clock, so processes on one file
 *     with different clocks are outside what the store supports.
 *     DST variant (both stores, in-process TestClock): an hourly cron in Europe/Berlin across the
 *     spring-forward (2025-03-30) and fall-back (2025-10-26) hours fires per croner's policy — a
 *     wall hour that does not exist gets no fire, a wall hour that happens twice fires once (at
 *     its first occurrence) — and never twice for one (schedule, scheduled time).
 *     libfaketime variant: not run (libfaketime is not installed; [1M-opt]).
 * #28 durable sleeps across a restart: 300 sleeps of 1–12 s (FULL: 1,000 of 1–30 s), SIGKILL of the
 *     only worker at t=4 s, a new one at t=8 s (FULL: 10 s / 20 s). Every sleep wakes exactly once
 *     (a second wake only for runs caught between their wake and its record by the kill), none
 *     before its due, overdue ones within S+2s of the restart, all runs Completed.
 */
import type { Baton, TaskContext } from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, expect, it } from 'vitest';
import { type BackendName, describeEachStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { createScenario, type ExtCall, FULL, LEASE_MS, remoteTask, report, type Scenario, SWEEP_MS } from './support/harness.js';

const HOUR_MS = 3_600_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
const HEARTBEAT_MS = LEASE_MS / 3;

/** The epoch ms a UUIDv7 was made at (Baton's ids carry their maker's clock). */
function idTime(id: string): number {
  return Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}

/** A small seeded generator, so a failing draw can be replayed (the seed is reported). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describeEachStore('F. clocks and durable time', (backend: BackendName) => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await scenario?.cleanup();
    scenario = undefined;
  });

  // SQLite: the store's clock is the machine's clock (DESIGN.md §2.13), shared by every process on
  // the file; two processes on one file with clocks an hour apart is not a setup SQLite supports.
  it.skipIf(backend === 'sqlite')(
    '#27 workers an hour fast and an hour slow: no early lease expiry, no double claim, sleeps wake on time, takeover in DB time',
    async () => {
      scenario = await createScenario(backend);
      const s = scenario;
      const baton = s.baton();
      const w1 = await s.startWorker('w1', { BATON_TEST_CLOCK_OFFSET_MS: String(HOUR_MS), WORKER_SLOTS: '25' });
      const w2 = await s.startWorker('w2', { BATON_TEST_CLOCK_OFFSET_MS: String(-HOUR_MS), WORKER_SLOTS: '25' });
      // The skew is real: each worker's id carries its own clock's time.
      const workers = await s.sql<{ id: string; name: string }>('SELECT id, name FROM workers');
      const skewOf = (name: string) => idTime(workers.find((w) => w.name === name)?.id ?? '') - Date.now();
      const skew = { w1: skewOf('w1'), w2: skewOf('w2') };
      expect(Math.abs(skew.w1 - HOUR_MS)).toBeLessThan(60_000);
      expect(Math.abs(skew.w2 + HOUR_MS)).toBeLessThan(60_000);

      const stubborn = remoteTask<{ ms: number }, { attempt: number; worker: string }>(baton, 'stubborn'); // timeout 2s
      const sleeper = remoteTask<{ ms: number }, number>(baton, 'sleeper', 'durable');
      const tasks = await stubborn.enqueueMany(Array.from({ length: 100 }, () => ({ input: { ms: 100 } })));
      const sleeps = await sleeper.enqueueMany(Array.from({ length: 100 }, () => ({ input: { ms: 5_000 } })));
      const outputs = await Promise.all(tasks.map((h) => h.result()));
      expect(outputs.every((o) => o.attempt === 0)).toBe(true);
      // Bounded: a sleep whose wake time was taken from a skewed clock would wait an extra hour.
      const sleepIds = sleeps.map((h) => h.id);
      await waitFor(
        async () => {
          const open = await s.sql<{ id: string; wake_in: number | null }>(
            `SELECT id, wake_at - $2 AS wake_in FROM runs WHERE id = ANY($1) AND status <> 'Completed'`,
            [sleepIds, Date.now()],
          );
          if (open.length > 0)
            throw new Error(
              `${open.length} sleeps not done; wake_at − now: ${open
                .slice(0, 5)
                .map((r) => r.wake_in)
                .join(', ')} ms`,
            );
          return true;
        },
        { timeout: 5_000 + SWEEP_MS + 2_000 + 15_000, interval: 250, message: 'all 100 sleeps Completed' },
      );

      for (const h of tasks) {
        const calls = s.calls({ runId: h.id });
        expect(calls.filter((c) => c.step === undefined)).toHaveLength(1);
        expect(calls.filter((c) => c.step === 'done')).toHaveLength(1);
        expect(calls.filter((c) => c.step === 'aborted')).toHaveLength(0);
      }
      const byWorker = (name: string) =>
        s.calls({ task: 'stubborn' }).filter((c) => c.worker === name && c.step === undefined).length;
      let worstEarly = 0;
      let worstLate = 0;
      for (const h of sleeps) {
        const woke = s.calls({ runId: h.id, step: 'woke' });
        expect(woke).toHaveLength(1);
        const first = woke[0] as ExtCall;
        const due = (first.data as { due: number }).due;
        const at = first.at;
        worstEarly = Math.min(worstEarly, at - due);
        worstLate = Math.max(worstLate, at - due);
      }
      const crashed = await s.sql<{ n: number }>('SELECT count(*) AS n FROM runs WHERE crash_count > 0');
      const expired = await s.sql<{ n: number }>("SELECT count(*) AS n FROM attempts WHERE outcome = 'lease_expired'");
      expect(Number(crashed[0]?.n)).toBe(0);
      expect(Number(expired[0]?.n)).toBe(0);
      expect(worstEarly).toBeGreaterThanOrEqual(0);
      expect(worstLate).toBeLessThanOrEqual(SWEEP_MS + 2_000);

      // Takeover in database time: kill the worker holding more of 10 long runs; the other (with
      // free slots) takes them over.
      const hold = remoteTask<{ ms: number }, string>(baton, 'hold');
      const holds = await hold.enqueueMany(Array.from({ length: 10 }, () => ({ input: { ms: 30_000 } })));
      await waitFor(() => s.calls({ task: 'hold' }).length === 10, { timeout: 15_000, message: '10 holds running' });
      const holdsOf = (name: string) =>
        new Set(
          s
            .calls({ task: 'hold' })
            .filter((c) => c.worker === name)
            .map((c) => c.runId),
        );
      const [victim, survivor] = holdsOf('w1').size >= holdsOf('w2').size ? [w1, w2] : [w2, w1];
      const onVictim = holdsOf(victim.name);
      const killedAt = Date.now();
      await victim.kill();
      await waitFor(
        () =>
          s.calls({ task: 'hold' }).filter((c) => c.worker === survivor.name && onVictim.has(c.runId)).length === onVictim.size,
        {
          timeout: LEASE_MS + SWEEP_MS + 10_000,
          message: `${survivor.name} to take over ${victim.name}'s holds`,
        },
      );
      const takeovers = await s.sql<{ run_id: string; started_at: number }>(
        'SELECT run_id, started_at FROM attempts WHERE epoch = 2 AND run_id IN (SELECT id FROM runs WHERE task_name = $1)',
        ['hold'],
      );
      const taken = takeovers.filter((a) => onVictim.has(a.run_id)).map((a) => Number(a.started_at) - killedAt);
      expect(taken).toHaveLength(onVictim.size);
      // The lease was renewed at most H before the kill, so it cannot expire before L−H; the sweep
      // finds it within S after it expired.
      expect(Math.min(...taken)).toBeGreaterThanOrEqual(LEASE_MS - HEARTBEAT_MS - 50);
      expect(Math.max(...taken)).toBeLessThanOrEqual(LEASE_MS + SWEEP_MS + 1_000);
      // The survivor's own runs (its clock an hour off the other way) were never taken from it.
      expect(takeovers.filter((a) => !onVictim.has(a.run_id))).toHaveLength(0);
      await Promise.all(holds.map((h) => h.cancel()));
      await survivor.stop();
      report(
        `#27 postgres: skew w1 +${Math.round(skew.w1 / 1000)} s, w2 ${Math.round(skew.w2 / 1000)} s; 100 timed tasks (w1 ${byWorker('w1')}, w2 ${byWorker('w2')}) ran once each, 0 lease expiries; ` +
          `100 sleeps of 5 s woke ${worstEarly}..${worstLate} ms after due; takeover of SIGKILLed ${victim.name}'s ${onVictim.size} runs by ${survivor.name} ${Math.min(...taken)}..${Math.max(...taken)} ms after SIGKILL (bound ${LEASE_MS - HEARTBEAT_MS}..${LEASE_MS + SWEEP_MS + 1_000})`,
      );
      await s.assertInvariants();
    },
  );

  const sleeps = FULL
    ? { n: 1_000, maxS: 30, killAt: 10_000, restartAt: 20_000 }
    : { n: 300, maxS: 12, killAt: 4_000, restartAt: 8_000 };
  it(
    `#28 ${sleeps.n} durable sleeps of 1–${sleeps.maxS} s, SIGKILL of the worker at t=${sleeps.killAt / 1000} s, restart at t=${sleeps.restartAt / 1000} s${FULL ? '' : ' (CI size; FULL: 1,000 of 1–30 s, 10 s / 20 s)'}: each wakes once, never early, overdue ones within S+2s of the restart`,
    async () => {
      scenario = await createScenario(backend);
      const s = scenario;
      const baton = s.baton();
      const seed = Date.now() % 2_147_483_647;
      const random = rng(seed);
      const durations = Array.from({ length: sleeps.n }, () => 1_000 + Math.floor(random() * (sleeps.maxS - 1) * 1_000));
      const w1 = await s.startWorker('w1', { WORKER_SLOTS: '50' });
      const t0 = Date.now();
      const sleeper = remoteTask<{ ms: number }, number>(baton, 'sleeper', 'durable');
      const handles = await sleeper.enqueueMany(durations.map((ms) => ({ input: { ms } })));
      const ids = handles.map((h) => h.id);
      await delay(t0 + sleeps.killAt - Date.now()); // the prescribed fault time
      const completed = await s.sql<{ id: string }>(`SELECT id FROM runs WHERE status = 'Completed'`);
      const completedBeforeKill = new Set(completed.map((r) => r.id));
      const killedAt = Date.now();
      await w1.kill();
      await delay(t0 + sleeps.restartAt - Date.now());
      const restartedAt = Date.now();
      await s.startWorker('w2', { WORKER_SLOTS: '50' });
      const readyAt = Date.now();
      await waitFor(
        async () => {
          const open = await s.sql<{ n: number }>(`SELECT count(*) AS n FROM runs WHERE status <> 'Completed'`);
          return Number(open[0]?.n) === 0;
        },
        { timeout: sleeps.maxS * 1_000 + SWEEP_MS + 2_000 + 15_000, interval: 200, message: `all ${sleeps.n} sleeps Completed` },
      );

      const problems: string[] = [];
      let maxLateOnTime = 0;
      let maxLateOverdue = 0;
      let overdue = 0;
      let twice = 0;
      for (const id of ids) {
        const woke = s.calls({ runId: id, step: 'woke' });
        const first = woke[0];
        if (!first) {
          problems.push(`${id} never woke`);
          continue;
        }
        const due = (first.data as { due: number }).due;
        // A second wake only for a run the kill caught after its wake but before its completion was recorded.
        const inWindow = first.at < killedAt && !completedBeforeKill.has(id);
        if (woke.length > 2 || (woke.length === 2 && (!inWindow || (woke[1]?.at ?? 0) < restartedAt))) {
          problems.push(`${id} woke ${woke.length} times (${woke.map((w) => w.worker).join(', ')})`);
        }
        if (woke.length === 2) twice++;
        for (const w of woke) if (w.at < due) problems.push(`${id} woke ${due - w.at} ms before its due`);
        if (first.at < killedAt) {
          if (first.at > due + SWEEP_MS + 2_000) problems.push(`${id} woke ${first.at - due} ms after its due`);
          maxLateOnTime = Math.max(maxLateOnTime, first.at - due);
        } else {
          if (due + SWEEP_MS + 2_000 < killedAt)
            problems.push(`${id} was due ${killedAt - due} ms before the kill but had not woken`);
          const from = Math.max(due, readyAt);
          if (first.at > from + SWEEP_MS + 2_000)
            problems.push(`${id} woke ${first.at - from} ms after ${due < readyAt ? 'the restart' : 'its due'}`);
          if (due < readyAt) {
            overdue++;
            maxLateOverdue = Math.max(maxLateOverdue, first.at - readyAt);
          } else maxLateOnTime = Math.max(maxLateOnTime, first.at - due);
        }
      }
      expect(problems.slice(0, 20)).toEqual([]);
      const outputs = await Promise.all(handles.map((h) => h.result()));
      expect(outputs).toHaveLength(sleeps.n);
      report(
        `#28 ${backend}: ${sleeps.n} sleeps (seed ${seed}), kill at t=${killedAt - t0} ms, worker ready at t=${readyAt - t0} ms (started ${restartedAt - t0}); ` +
          `${overdue} overdue woke at most ${maxLateOverdue} ms after the restart, the rest at most ${maxLateOnTime} ms after due (bound ${SWEEP_MS + 2_000}); ${twice} woke twice (caught by the kill between wake and record)`,
      );
      await s.assertInvariants();
    },
    FULL ? 300_000 : 120_000,
  );

  for (const dst of [
    {
      name: 'spring forward 2025-03-30',
      start: '2025-03-29T23:59:00.000Z', // 00:59 CET
      // 01:00 CET, then 03:00 CEST (02:00 local never happens), 04:00, 05:00, 06:00 CEST: one fire per real hour
      fires: [
        '2025-03-30T00:00:00.000Z',
        '2025-03-30T01:00:00.000Z',
        '2025-03-30T02:00:00.000Z',
        '2025-03-30T03:00:00.000Z',
        '2025-03-30T04:00:00.000Z',
      ],
      local: ['01:00', '03:00', '04:00', '05:00', '06:00'],
    },
    {
      name: 'fall back 2025-10-26',
      start: '2025-10-25T23:59:00.000Z', // 01:59 CEST
      // 02:00 CEST, then the repeated 02:00 (CET, 01:00Z) does not fire again, then 03:00, 04:00, 05:00 CET
      fires: ['2025-10-26T00:00:00.000Z', '2025-10-26T02:00:00.000Z', '2025-10-26T03:00:00.000Z', '2025-10-26T04:00:00.000Z'],
      local: ['02:00', '03:00', '04:00', '05:00'],
    },
  ]) {
    it(`#27 DST ${dst.name}: an hourly Europe/Berlin cron fires once per existing wall hour, the repeated hour once, no duplicate (schedule, time)`, async () => {
      scenario = await createScenario(backend);
      const clock = new TestClock(new Date(dst.start));
      const baton: Baton = scenario.baton({ clock, sweepInterval: '1s' });
      const seen: TaskContext['trigger'][] = [];
      const wf = baton.workflow({
        name: 'berlin',
        on: { crons: [{ cron: '0 * * * *', timezone: 'Europe/Berlin', overlap: 'queue' }] },
      });
      wf.task({ name: 'tick' }, async (_input, ctx) => {
        seen.push(ctx.trigger);
      });
      const worker = baton.worker({ name: 'w', pollInterval: '20ms', shutdownTimeout: '2s', tasks: [wf] });
      await worker.start();
      const scheduledTimes = () => seen.map((t) => (t.kind === 'cron' ? t.scheduledAt.toISOString() : t.kind)).sort();
      // One minute to the first hour, then hour by hour (each advance lands on a fire time, so no
      // fire is a misfire) through four real hours.
      // Each fire's run is waited for until it has ended: an hour's jump with a result still being
      // stored would expire its lease and re-run it (a crash, by the rules), which is not what
      // this scenario is about.
      const ended = async () =>
        (await baton.runs.list({ limit: 100 })).items.filter((r) => r.taskName === 'berlin' && r.state.name === 'Completed')
          .length;
      await clock.advance('1m');
      for (let hour = 1; hour <= 4; hour++) {
        const due = dst.fires.filter((f) => Date.parse(f) <= clock.now()).length;
        await waitFor(async () => seen.length >= due && (await ended()) >= due, {
          timeout: 10_000,
          message: `${due} fires ended by ${clock.date().toISOString()}`,
        });
        await clock.advance('1h');
      }
      const expected = dst.fires.filter((f) => Date.parse(f) <= clock.now());
      await waitFor(() => seen.length >= expected.length, { timeout: 10_000, message: `${expected.length} fires` });
      const fires = (await baton.runs.list({ limit: 100 })).items.filter((r) => r.taskName === 'berlin');
      expect(scheduledTimes()).toEqual(expected);
      expect(fires).toHaveLength(expected.length);
      const local = scheduledTimes().map((t) =>
        new Date(t).toLocaleTimeString('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }),
      );
      expect(local).toEqual(dst.local.slice(0, expected.length));
      const fired = await scenario.sql<{ scheduled_at: number; n: number }>(
        'SELECT scheduled_at, count(*) AS n FROM schedule_fires GROUP BY schedule_id, scheduled_at ORDER BY scheduled_at',
      );
      expect(fired.map((f) => new Date(Number(f.scheduled_at)).toISOString())).toEqual(expected);
      expect(fired.every((f) => Number(f.n) === 1)).toBe(true);
      await worker.stop();
      await scenario.assertInvariants();
      report(
        `#27 ${backend} DST ${dst.name}: hourly Europe/Berlin fired at ${scheduledTimes().join(', ')} (local ${local.join(', ')})`,
      );
    });
  }
});

// Not here: #27's [1M-opt] variant with libfaketime (LD_PRELOAD skewing every clock call of a
// process, the database driver's included) — it is not installed on this machine.
