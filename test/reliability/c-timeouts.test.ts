/**
 * RELIABILITY.md section C, timeouts, heartbeats and retries, on SQLite and PostgreSQL:
 * #14 a handler that ignores its timeout: attempt 0 ends timed_out at 2 s + ≤ S, attempt 1 starts
 *     after its 100 ms backoff, attempt 0's late completion is discarded (attempt 0 never settles
 *     as completed, the output is attempt 1's) and the worker logs it; the run ends Completed.
 *     The late completion never reaches the store: the worker settled attempt 0 at its timeout,
 *     so it drops the result (a write would be fenced anyway: attempt 1 holds a newer epoch).
 * #15 a blocked event loop, both outcomes:
 *     - in-process: a handler busy-looping 3L starves the worker's heartbeat, so its lease expires
 *       and W2 takes the run over (the sweep re-queues it after L, W2 claims it); when W1's loop
 *       frees, its completion is refused by the lease epoch (logged) and the result is W2's (I5).
 *     - isolated: the same busy loop inside runInWorkerThread leaves the worker's loop free: the
 *       lease keeps renewing, no takeover, exactly one execution.
 * #16 retry schedule and dead letter: 5 attempts, each starting inside its jitter window
 *     (200 ms × 2^n ± 20 %, cap 2 s) after the previous one ended, then Failed with the last
 *     error; a NonRetryableError stops after attempt 1 (no retry).
 * #17 schedule-to-start timeout: with no worker serving the task, a run with scheduleTimeout 3 s
 *     is TimedOut by the test's sweeper (baton.sweep() every S, as a worker's Baton does) at
 *     3 s + ≤ S (+ 0.5 s for the sweep itself); a worker started at 5 s never runs it.
 */
import type { Baton } from 'baton';
import { afterEach, expect, it } from 'vitest';
import { type BackendName, describeEachStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { CdWorkers, captureStderr, logLinesOf } from './fixtures/cd-processes.js';
import { createScenario, LEASE_MS, remoteTask, report, type Scenario, SWEEP_MS } from './support/harness.js';

/** The fixtures' WORKER_POLL. */
const POLL_MS = 100;
/** Store times are whole ms, taken in different transactions: allow this much rounding. */
const ROUNDING_MS = 5;

interface AttemptRow {
  epoch: number;
  attempt: number;
  worker_id: string;
  started_at: number;
  ended_at: number | null;
  outcome: string | null;
}

interface StateRow {
  name: string;
  attempt: number;
  at: number;
  message: string | null;
  waiting_on: unknown;
}

describeEachStore('C. timeouts, heartbeats, retries', (backend: BackendName) => {
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

  async function attemptsOf(runId: string): Promise<AttemptRow[]> {
    const rows = await scenario.sql<AttemptRow>(
      'SELECT epoch, attempt, worker_id, started_at, ended_at, outcome FROM attempts WHERE run_id = $1 ORDER BY epoch',
      [runId],
    );
    return rows.map((r) => ({
      ...r,
      started_at: Number(r.started_at),
      ended_at: r.ended_at === null ? null : Number(r.ended_at),
    }));
  }

  async function statesOf(runId: string): Promise<StateRow[]> {
    const rows = await scenario.sql<StateRow>(
      'SELECT name, attempt, at, message, waiting_on FROM run_states WHERE run_id = $1 ORDER BY id',
      [runId],
    );
    return rows.map((r) => ({
      ...r,
      at: Number(r.at),
      waiting_on: typeof r.waiting_on === 'string' ? JSON.parse(r.waiting_on) : r.waiting_on,
    }));
  }

  async function assertAll(): Promise<void> {
    expect(cdWorkers.crashed()).toEqual([]);
    await scenario.assertInvariants();
  }

  it('#14 a handler deaf to its 2 s timeout: attempt 0 timed out at 2 s + ≤ S, attempt 1 after its backoff, the late completion discarded and logged', async () => {
    await setUp();
    const w1 = await scenario.startWorker('w1', { WORKER_TASKS: 'stubborn' });
    const stderr = captureStderr(w1);
    const stubborn = remoteTask<{ ms: number }, { attempt: number; worker: string }>(baton, 'stubborn');
    const handle = await stubborn.enqueue({ ms: 5_000 });

    expect(await handle.result()).toEqual({ attempt: 1, worker: 'w1' });
    // Attempt 0's handler returns at 5 s, long after the run completed.
    const late = await waitFor(() => scenario.calls({ runId: handle.id, step: 'done' }).find((c) => c.attempt === 0), {
      timeout: 15_000,
      message: 'attempt 0 to return late',
    });
    const discarded = await waitFor(
      () => logLinesOf(stderr(), handle.id).find((line) => line.attempt === 0 && /discarded|refused/.test(String(line.msg))),
      { timeout: 5_000, message: 'w1 to log the discarded late completion of attempt 0' },
    );

    const attempts = await attemptsOf(handle.id);
    expect(attempts.map((a) => [a.attempt, a.outcome])).toEqual([
      [0, 'timed_out'],
      [1, 'completed'],
    ]);
    const [a0, a1] = attempts as [AttemptRow, AttemptRow];
    const timedOutAfter = (a0.ended_at as number) - a0.started_at;
    expect(timedOutAfter).toBeGreaterThanOrEqual(2_000 - ROUNDING_MS);
    expect(timedOutAfter).toBeLessThanOrEqual(2_000 + SWEEP_MS);
    const backoff = a1.started_at - (a0.ended_at as number);
    expect(backoff).toBeGreaterThanOrEqual(100 - ROUNDING_MS);
    expect(backoff).toBeLessThanOrEqual(100 + POLL_MS + SWEEP_MS);

    const states = await statesOf(handle.id);
    const retry = states.find((s) => s.name === 'AwaitingRetry');
    expect(retry?.message).toMatch(/^timed out/);
    const terminal = states.filter((s) => ['Completed', 'Failed', 'TimedOut', 'Cancelled', 'Crashed'].includes(s.name));
    expect(terminal.map((s) => [s.name, s.attempt])).toEqual([['Completed', 1]]);
    // The late completion came after the run had completed, and changed nothing.
    expect(late.at).toBeGreaterThan((terminal[0] as StateRow).at);
    const [run] = await scenario.sql<{ status: string; output: string }>('SELECT status, output FROM runs WHERE id = $1', [
      handle.id,
    ]);
    expect(run?.status).toBe('Completed');
    expect(JSON.parse(run?.output ?? 'null')).toEqual({ attempt: 1, worker: 'w1' });
    // Attempt 0's signal was aborted at its timeout, though it did not listen.
    const aborted = scenario.calls({ runId: handle.id, step: 'aborted' });
    expect(aborted.map((c) => c.attempt)).toEqual([0]);

    report(
      `#14 ${backend}: attempt 0 timed out ${timedOutAfter} ms after its start (bound ${2_000 + SWEEP_MS}); attempt 1 started ${backoff} ms later (backoff 100 ms); late completion at +${late.at - a0.started_at} ms discarded, logged "${discarded.msg}"`,
    );
    await assertAll();
  });

  it('#15 in-process: a handler busy-looping 3L loses its lease; W2 re-runs it, W1 cannot settle afterwards (I5)', async () => {
    await setUp();
    const w1 = await cdWorkers.start(scenario, 'w1', { WORKER_TASKS: 'spinonce' });
    const stderr = captureStderr(w1);
    const spinonce = remoteTask<{ ms: number; onWorker: string }, string>(baton, 'spinonce');
    const handle = await spinonce.enqueue({ ms: 3 * LEASE_MS, onWorker: 'w1' });
    const first = await waitFor(
      () => scenario.calls({ runId: handle.id }).find((c) => c.worker === 'w1' && c.step === undefined),
      {
        timeout: 15_000,
        message: 'w1 to start spinning',
      },
    );
    await cdWorkers.start(scenario, 'w2', { WORKER_TASKS: 'spinonce' });

    expect(await handle.result()).toBe('w2');
    const second = scenario.calls({ runId: handle.id }).find((c) => c.worker === 'w2' && c.step === undefined);
    const takeover = (second?.at ?? Number.NaN) - first.at;
    expect(takeover).toBeGreaterThanOrEqual(LEASE_MS);
    expect(takeover).toBeLessThanOrEqual(LEASE_MS + SWEEP_MS + 2_000);

    // W1's loop frees after 3L: its completion is refused, and it says so.
    const w1Done = await waitFor(() => scenario.calls({ runId: handle.id, step: 'done' }).find((c) => c.worker === 'w1'), {
      timeout: 3 * LEASE_MS + 10_000,
      message: 'w1 to finish spinning',
    });
    const refused = await waitFor(
      () => logLinesOf(stderr(), handle.id).find((line) => /refused|lease lost|discarded/.test(String(line.msg))),
      { timeout: 5_000, message: 'w1 to log that its settlement was refused' },
    );
    const attempts = await attemptsOf(handle.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['lease_expired', 'completed']);
    const [run] = await scenario.sql<{ status: string; output: string }>('SELECT status, output FROM runs WHERE id = $1', [
      handle.id,
    ]);
    expect(run?.status).toBe('Completed');
    expect(JSON.parse(run?.output ?? 'null')).toBe('w2');
    const terminal = (await statesOf(handle.id)).filter((s) => s.name === 'Completed');
    expect(terminal).toHaveLength(1);
    expect(w1Done.at).toBeGreaterThan((terminal[0] as StateRow).at);

    report(
      `#15 ${backend} in-process: W1 spun ${3 * LEASE_MS} ms; W2 took over ${takeover} ms after W1 started (bound ${LEASE_MS + SWEEP_MS + 2_000}); W1's late completion refused: "${refused.msg}"`,
    );
    await assertAll(); // I5: W1's attempt (lease_expired) ended before W2's started
  });

  it('#15 isolated: the same busy loop in runInWorkerThread keeps the lease renewing: no takeover, one execution', async () => {
    await setUp();
    await cdWorkers.start(scenario, 'w1', { WORKER_TASKS: 'spinthread' });
    await cdWorkers.start(scenario, 'w2', { WORKER_TASKS: 'spinthread' });
    const spinthread = remoteTask<{ ms: number }, string>(baton, 'spinthread');
    const handle = await spinthread.enqueue({ ms: 3 * LEASE_MS });
    const winner = await handle.result();
    const calls = scenario.calls({ runId: handle.id });
    const starts = calls.filter((c) => c.step === undefined);
    expect(starts.map((c) => c.worker)).toEqual([winner]);
    expect(calls.filter((c) => c.step === 'aborted')).toEqual([]);
    const done = calls.find((c) => c.step === 'done');
    const spun = (done?.at ?? 0) - (starts[0]?.at ?? 0);
    expect(spun).toBeGreaterThanOrEqual(3 * LEASE_MS);
    const attempts = await attemptsOf(handle.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['completed']);
    report(`#15 ${backend} isolated: ${spun} ms of busy loop in a worker thread; 1 execution, 1 attempt, no takeover`);
    await assertAll();
  });

  it('#16 always-failing task: exactly 5 attempts, each inside its jitter window, then Failed with the last error; NonRetryableError stops after 1', async () => {
    await setUp();
    await scenario.startWorker('w1', { WORKER_TASKS: 'flaky' });
    const flaky = remoteTask<{ nonRetryable?: boolean }, never>(baton, 'flaky');
    const handle = await flaky.enqueue({});
    const stopped = await flaky.enqueue({ nonRetryable: true });
    await expect(handle.result()).rejects.toThrow(/flaky fails attempt 4/);
    await expect(stopped.result()).rejects.toThrow(/flaky refuses attempt 0/);

    const attempts = await attemptsOf(handle.id);
    expect(attempts.map((a) => [a.attempt, a.outcome])).toEqual([0, 1, 2, 3, 4].map((n) => [n, 'failed']));
    expect(scenario.calls({ runId: handle.id }).map((c) => c.attempt)).toEqual([0, 1, 2, 3, 4]);
    const states = await statesOf(handle.id);
    const retries = states.filter((s) => s.name === 'AwaitingRetry');
    expect(retries).toHaveLength(4);
    const figures: string[] = [];
    for (let n = 0; n < 4; n++) {
      const base = Math.min(200 * 2 ** n, 2_000);
      const low = 0.8 * base;
      const high = Math.min(1.2 * base, 2_000);
      const ended = (attempts[n] as AttemptRow).ended_at as number;
      const next = (attempts[n + 1] as AttemptRow).started_at;
      // The delay the engine drew for this retry lies in its jitter window …
      const until = ((retries[n] as StateRow).waiting_on as { until: number }).until;
      const drawn = until - (retries[n] as StateRow).at;
      expect(drawn, `retry ${n + 1} delay`).toBeGreaterThanOrEqual(Math.floor(low));
      expect(drawn, `retry ${n + 1} delay`).toBeLessThanOrEqual(Math.ceil(high));
      // … and the next attempt started inside it, give or take the poll interval and a sweep.
      const gap = next - ended;
      expect(gap, `start of attempt ${n + 1} after the end of attempt ${n}`).toBeGreaterThanOrEqual(low - ROUNDING_MS);
      expect(gap, `start of attempt ${n + 1} after the end of attempt ${n}`).toBeLessThanOrEqual(high + POLL_MS + SWEEP_MS);
      figures.push(`${gap} ms (window ${Math.round(low)}–${Math.round(high)})`);
    }
    const [run] = await scenario.sql<{ status: string; error: unknown }>('SELECT status, error FROM runs WHERE id = $1', [
      handle.id,
    ]);
    expect(run?.status).toBe('Failed');
    // json on PostgreSQL (parsed by pg), text on SQLite.
    const error = typeof run?.error === 'string' ? JSON.parse(run.error) : run?.error;
    expect(error).toMatchObject({ message: 'flaky fails attempt 4' });
    expect(states.filter((s) => s.name === 'Failed').map((s) => s.attempt)).toEqual([4]);

    expect(scenario.calls({ runId: stopped.id }).map((c) => c.attempt)).toEqual([0]);
    expect((await attemptsOf(stopped.id)).map((a) => a.outcome)).toEqual(['failed']);
    expect((await statesOf(stopped.id)).filter((s) => s.name === 'AwaitingRetry')).toEqual([]);

    report(`#16 ${backend}: 5 attempts; gaps between attempts ${figures.join(', ')}; then Failed; NonRetryableError: 1 attempt`);
    await assertAll();
  });

  it('#17 scheduleTimeout 3 s with no worker: TimedOut at 3 s + ≤ S by the sweeper; a worker started at 5 s never runs it', async () => {
    await setUp();
    // Defined here, so the run carries scheduleTimeout; the fixture worker serves `noop` by name.
    const late = baton.task({ name: 'noop', retries: 0, scheduleTimeout: '3s' }, async (_input: unknown) => {
      throw new Error('the test process runs no worker');
    });
    // This process has no worker, so nothing sweeps unless asked: sweep every S, as a worker's Baton would.
    const sweeper = setInterval(() => void baton.sweep(), SWEEP_MS);
    try {
      const enqueuedAt = Date.now();
      const handle = await late.enqueue({});
      const state = await waitFor(
        async () => {
          const s = await handle.state();
          return s.name === 'TimedOut' ? s : undefined;
        },
        { timeout: 3_000 + SWEEP_MS + 5_000, interval: 20, message: 'the run to time out before a worker claims it' },
      );
      const [row] = await scenario.sql<{ created_at: number }>('SELECT created_at FROM runs WHERE id = $1', [handle.id]);
      const timedOut = (await statesOf(handle.id)).find((s) => s.name === 'TimedOut');
      const after = (timedOut?.at ?? Number.NaN) - Number(row?.created_at);
      expect(after).toBeGreaterThanOrEqual(3_000);
      expect(after).toBeLessThanOrEqual(3_000 + SWEEP_MS + 500);
      expect(state.error?.message).toMatch(/scheduleTimeout/);

      // A worker serving the task starts at 5 s; a control run enqueued after it shows it claims.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, enqueuedAt + 5_000 - Date.now())));
      await scenario.startWorker('w1', { WORKER_TASKS: 'noop' });
      const control = await remoteTask<unknown, unknown>(scenario.baton(), 'noop').enqueue({ control: true });
      await control.result();
      expect(scenario.calls({ runId: control.id })).toHaveLength(1);
      expect(scenario.calls({ runId: handle.id })).toEqual([]);
      expect(await attemptsOf(handle.id)).toEqual([]);
      expect((await handle.state()).name).toBe('TimedOut');
      report(
        `#17 ${backend}: TimedOut ${after} ms after enqueue (bound ${3_000 + SWEEP_MS}+0.5 s); a worker started at 5 s ran the control, not it`,
      );
    } finally {
      clearInterval(sweeper);
    }
    await assertAll();
  });
});
