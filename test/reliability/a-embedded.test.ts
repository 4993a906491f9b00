/**
 * RELIABILITY.md #5, SQLite embedded crash mid-write: one process enqueues and runs 200 plain
 * and 20 durable runs on a WAL file and is SIGKILLed at a random moment, again and again (the
 * seed is printed). After every kill `PRAGMA integrity_check` is ok and no recorded step has
 * changed; after the last restart all 220 runs end Completed, each created once, and the
 * invariants hold. SQLite only: the embedded single-file mode is what it tests.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startWorkerProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { createScenario, FULL, report, type Scenario, seededRandom } from './support/harness.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/a-embedded.ts', import.meta.url));
const TERMINAL = "('Completed', 'Failed', 'TimedOut', 'Crashed', 'Cancelled')";

describe('A. SQLite embedded crash', () => {
  let scenario: Scenario;
  afterEach(async () => {
    await scenario?.cleanup();
  });

  const repetitions = FULL ? 20 : 6;
  it(`#5 SIGKILL at random moments (${repetitions} times${FULL ? '' : '; 20 with RELIABILITY_FULL=1'}): integrity ok, all 220 runs complete once created`, async () => {
    scenario = await createScenario('sqlite');
    const seed = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000);
    const next = seededRandom(seed);
    report(`#5 seed ${seed} (repeat with RELIABILITY_SEED=${seed})`);
    const env = { ...scenario.env, WORKER_LEASE: '3000ms' };
    const killedAfter: number[] = [];
    const states: string[] = [];
    for (let i = 0; i < repetitions; i++) {
      const process = await startWorkerProcess(FIXTURE, env);
      const delay = Math.floor(50 + next() * 1_500);
      await new Promise((resolve) => setTimeout(resolve, delay)); // the fault's random moment
      await process.kill();
      const [progress] = await scenario.sql<{ ended: number; leased: number }>(
        `SELECT sum(CASE WHEN status IN ${TERMINAL} THEN 1 ELSE 0 END) AS ended, sum(CASE WHEN status = 'Running' THEN 1 ELSE 0 END) AS leased FROM runs`,
      );
      killedAfter.push(delay);
      states.push(`${Number(progress?.ended ?? 0)} ended/${Number(progress?.leased ?? 0)} running`);
      const [check] = await scenario.sql<{ integrity_check: string }>('PRAGMA integrity_check');
      expect(check?.integrity_check).toBe('ok');
      await scenario.snapshotSteps();
    }
    const survivor = await startWorkerProcess(FIXTURE, env);
    await waitFor(
      async () => {
        const [row] = await scenario.sql<{ n: number }>(`SELECT count(*) AS n FROM runs WHERE status IN ${TERMINAL}`);
        return Number(row?.n) === 220;
      },
      { timeout: 60_000, interval: 100, message: 'all 220 runs to end' },
    );
    const byStatus = await scenario.sql<{ task_name: string; status: string; n: number }>(
      'SELECT task_name, status, count(*) AS n FROM runs GROUP BY task_name, status ORDER BY task_name',
    );
    expect(byStatus.map((r) => [r.task_name, r.status, Number(r.n)])).toEqual([
      ['journey', 'Completed', 20],
      ['work', 'Completed', 200],
    ]);
    const outputs = await scenario.sql<{ output: string }>("SELECT output FROM runs WHERE task_name = 'journey'");
    expect(outputs.map((r) => JSON.parse(r.output)).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 4));
    const executions = scenario.calls({ task: 'work' });
    const reRuns = executions.length - new Set(executions.map((c) => c.runId)).size;
    await survivor.stop();
    report(
      `#5 sqlite: ${repetitions} kills after ${killedAfter.join('/')} ms (${states.join(', ')} at the kills); 220/220 completed; ${reRuns} plain runs executed twice (in flight at a kill)`,
    );
    await scenario.assertInvariants();
  });
});
