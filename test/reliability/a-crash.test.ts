/**
 * RELIABILITY.md section A, crash recovery: #1 SIGKILL with 50 running tasks, #2 SIGKILL between
 * recorded steps, #3 SIGKILL in the ambiguous window of a step, #4 transactional steps exactly once.
 * Each on SQLite and PostgreSQL, with the ext_calls oracle and the invariants after each.
 */
import type { Baton } from 'baton';
import { afterEach, expect, it } from 'vitest';
import { type BackendName, describeEachStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { blockedAt, createScenario, LEASE_MS, remoteTask, report, type Scenario, SWEEP_MS } from './support/harness.js';

describeEachStore('A. crash recovery', (backend: BackendName) => {
  let scenario: Scenario;
  let baton: Baton;

  async function setUp(): Promise<void> {
    scenario = await createScenario(backend);
    baton = scenario.baton();
  }

  afterEach(async () => {
    await scenario?.cleanup();
  });

  it('#1 SIGKILL of a worker running 50 tasks: the other worker takes all 50 within L+S+5s, each ends Completed', async () => {
    await setUp();
    const w1 = await scenario.startWorker('w1', { WORKER_SLOTS: '50' });
    const hold = remoteTask<{ ms: number; holdOn?: string }, string>(baton, 'hold');
    const handles = await hold.enqueueMany(Array.from({ length: 50 }, () => ({ input: { ms: 60_000, holdOn: 'w1' } })));
    /** Executions started on a worker (the fixture also records `done` and `aborted` steps). */
    const starts = (worker: string) =>
      scenario.calls({ task: 'hold' }).filter((c) => c.worker === worker && c.step === undefined);
    await waitFor(() => starts('w1').length === 50, { timeout: 30_000, message: '50 running on w1' });
    const w2 = await scenario.startWorker('w2', { WORKER_SLOTS: '50' });
    const killedAt = Date.now();
    await w1.kill();
    await waitFor(() => starts('w2').length === 50, {
      timeout: LEASE_MS + SWEEP_MS + 5_000 + 5_000,
      message: 'all 50 taken over by w2',
    });
    const takeover = Math.max(...starts('w2').map((c) => c.at)) - killedAt;
    expect(takeover).toBeLessThanOrEqual(LEASE_MS + SWEEP_MS + 5_000);
    const outputs = await Promise.all(handles.map((h) => h.result()));
    expect(outputs).toEqual(Array.from({ length: 50 }, () => 'w2'));
    for (const h of handles) {
      const calls = scenario.calls({ runId: h.id, task: 'hold' }).filter((c) => c.step === undefined);
      expect(calls.map((c) => c.worker)).toEqual(['w1', 'w2']);
      expect(calls.every((c) => c.attempt === 0)).toBe(true); // a crash is not an attempt
    }
    const w2Pid = w2.child.pid;
    expect(
      scenario
        .calls({ task: 'hold' })
        .filter((c) => c.worker === 'w2')
        .every((c) => c.pid === w2Pid),
    ).toBe(true);
    report(
      `#1 ${backend}: 50 runs taken over ${takeover} ms after SIGKILL (bound ${LEASE_MS + SWEEP_MS + 5_000} ms); executions per run: 2`,
    );
    await scenario.assertInvariants();
  });

  it('#2 SIGKILL after step s3 is recorded: s1–s3 never run again, s4–s5 run once, same output as without a fault', async () => {
    await setUp();
    const w1 = await scenario.startWorker('w1', { RELIABILITY_BLOCK: 'steps5:after:s3' });
    const steps5 = remoteTask<{ seed: number }, string[]>(baton, 'steps5', 'durable');
    const handle = await steps5.enqueue({ seed: 7 });
    await blockedAt(w1, 'steps5:after:s3');
    await scenario.snapshotSteps();
    await w1.kill();
    await scenario.startWorker('w2');
    const output = await handle.result();
    expect(output).toEqual(['s1:7', 's2:7', 's3:7', 's4:7', 's5:7']);
    const counts = Object.fromEntries(
      ['s1', 's2', 's3', 's4', 's5'].map((s) => [s, scenario.calls({ runId: handle.id, step: s }).length]),
    );
    expect(counts).toEqual({ s1: 1, s2: 1, s3: 1, s4: 1, s5: 1 });
    expect(scenario.calls({ runId: handle.id, step: 's4' })[0]?.worker).toBe('w2');
    await scenario.assertInvariants(); // I3: s1–s3 rows unchanged since the snapshot
  });

  it('#3 SIGKILL inside a step after its side effect: the step runs exactly once more, with the same idempotency key', async () => {
    await setUp();
    const w1 = await scenario.startWorker('w1', { RELIABILITY_BLOCK: 'ambiguous:in:charge' });
    const ambiguous = remoteTask<unknown, { charged: string }>(baton, 'ambiguous', 'durable');
    const handle = await ambiguous.enqueue({});
    await blockedAt(w1, 'ambiguous:in:charge');
    await w1.kill();
    await scenario.startWorker('w2');
    const output = await handle.result();
    const calls = scenario.calls({ runId: handle.id, step: 'charge' });
    expect(calls.map((c) => c.worker)).toEqual(['w1', 'w2']);
    expect(new Set(calls.map((c) => c.key))).toEqual(new Set([`${handle.id}:charge`]));
    expect(output).toEqual({ charged: `${handle.id}:charge` });
    const rows = await scenario.sql<{ n: number }>('SELECT count(*) AS n FROM steps WHERE run_id = $1 AND step_key LIKE $2', [
      handle.id,
      'charge%',
    ]);
    expect(Number(rows[0]?.n)).toBe(1);
    await scenario.assertInvariants();
  });

  for (const point of ['before-commit', 'after-commit'] as const) {
    it(`#4 a transactional step killed ${point.replace('-', ' ')}: exactly one effects row; the step ran ${point === 'before-commit' ? 'twice' : 'once'}`, async () => {
      await setUp();
      const w1 = await scenario.startWorker('w1', { RELIABILITY_BLOCK: `txstep:${point}` });
      const txstep = remoteTask<{ holdMs?: number }, { worker: string }>(baton, 'txstep', 'durable');
      const handle = await txstep.enqueue({});
      await blockedAt(w1, `txstep:${point}`);
      await w1.kill();
      await scenario.startWorker('w2');
      const output = await handle.result();
      const effects = await scenario.sql<{ pid: number }>('SELECT pid FROM effects WHERE run_id = $1', [handle.id]);
      expect(effects).toHaveLength(1);
      const calls = scenario.calls({ runId: handle.id, step: 'pay' });
      if (point === 'before-commit') {
        expect(calls.map((c) => c.worker)).toEqual(['w1', 'w2']);
        expect(output.worker).toBe('w2');
      } else {
        expect(calls.map((c) => c.worker)).toEqual(['w1']);
        expect(output.worker).toBe('w1'); // the recorded result, not a re-run
      }
      await scenario.assertInvariants();
    });
  }
});
