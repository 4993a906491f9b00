/**
 * RELIABILITY.md #29, a poison task that kills its worker process (process.exit, and running
 * out of heap under --max-old-space-size=64): supervised workers are restarted as they die;
 * after maxCrashes lease expiries the run ends Crashed with reason worker_crashed, and the 100
 * other runs all complete meanwhile. Both stores.
 */
import type { Baton } from 'baton';
import { afterEach, expect, it } from 'vitest';
import type { WorkerProcess } from '../support/processes.js';
import { type BackendName, describeEachStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { createScenario, remoteTask, report, type Scenario } from './support/harness.js';

/** Stored with the run by the enqueuer (as in the fixture's own definition). */
const POISON_MAX_CRASHES = 2;

describeEachStore('G. poison', (backend: BackendName) => {
  let scenario: Scenario;
  let baton: Baton;
  let done = false;
  afterEach(async () => {
    done = true;
    await scenario?.cleanup();
  });

  for (const crash of ['exit', 'oom'] as const) {
    it(`#29 a poison run (${crash === 'exit' ? 'process.exit(1)' : 'heap exhausted at 64 MB'}) ends Crashed (worker_crashed) after maxCrashes; 100 other runs complete`, async () => {
      done = false;
      scenario = await createScenario(backend);
      baton = scenario.baton();
      const deaths: { name: string; code: number | string | null }[] = [];
      const extra: Record<string, string> = crash === 'oom' ? { NODE_OPTIONS: '--max-old-space-size=64' } : {};
      /** Restarts a worker each time it dies, like a process supervisor. */
      const supervise = async (name: string) => {
        for (let generation = 0; !done && generation < 10; generation++) {
          const worker: WorkerProcess = await scenario.startWorker(`${name}.${generation}`, { WORKER_SLOTS: '10', ...extra });
          scenario.allowCrash(worker);
          if (done) {
            await worker.kill();
            return;
          }
          const code = await worker.exited;
          if (done || code === 0) return;
          deaths.push({ name: worker.name, code });
        }
      };
      const supervisors = [supervise('wa'), supervise('wb')];
      const noop = remoteTask<{ i: number }, unknown>(baton, 'noop');
      const poison = remoteTask<{ crash: string }, string>(baton, 'poison', 'task', {
        retries: 0,
        maxCrashes: POISON_MAX_CRASHES,
      });
      const others = await noop.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ input: { i } })));
      const bad = await poison.enqueue({ crash });
      await Promise.all(others.map((h) => h.result()));
      const othersDoneAt = Date.now();
      const state = await waitFor(
        async () => {
          const s = await bad.state();
          return s.name === 'Crashed' ? s : undefined;
        },
        { timeout: 90_000, interval: 100, message: 'the poison run to end Crashed' },
      );
      const [row] = await scenario.sql<{ error: string | { code?: string }; crash_count: number }>(
        'SELECT error, crash_count FROM runs WHERE id = $1',
        [bad.id],
      );
      const error = typeof row?.error === 'string' ? (JSON.parse(row.error) as { code?: string }) : row?.error;
      expect(error?.code).toBe('worker_crashed');
      expect(state.error?.message ?? '').toMatch(/stopped heartbeating/);
      const executions = scenario.calls({ runId: bad.id });
      expect(executions).toHaveLength(POISON_MAX_CRASHES + 1);
      // Every worker death is the poison's doing: it ran on that process last.
      const poisonPids = new Set(executions.map((c) => c.pid));
      expect(deaths.length).toBe(POISON_MAX_CRASHES + 1);
      expect(poisonPids.size).toBe(POISON_MAX_CRASHES + 1);
      const statuses = await scenario.sql<{ status: string; n: number }>(
        "SELECT status, count(*) AS n FROM runs WHERE task_name = 'noop' GROUP BY status",
      );
      expect(statuses.map((r) => [r.status, Number(r.n)])).toEqual([['Completed', 100]]);
      done = true;
      report(
        `#29 ${backend} ${crash}: poison Crashed after ${executions.length} executions and ${deaths.length} worker deaths (exit ${deaths.map((d) => d.code).join('/')}); 100 others done ${Math.max(0, othersDoneAt - (executions[0]?.at ?? othersDoneAt))} ms after the first poison execution`,
      );
      await scenario.cleanup();
      await Promise.all(supervisors);
      scenario = undefined as unknown as Scenario;
    });
  }
});
