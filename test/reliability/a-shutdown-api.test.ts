/**
 * RELIABILITY.md #6 graceful shutdown (SIGTERM: no new claims, short runs finish, long runs get
 * their AbortSignal and are released — not failed — to another worker at once, exit 0 within
 * grace + 1 s) and #7 an API process killed after committing an idempotent create but before
 * answering (the client's retries against the restarted server all get the one run's id).
 * Both stores.
 */
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Baton } from 'baton';
import { afterEach, expect, it } from 'vitest';
import { startWorkerProcess } from '../support/processes.js';
import { type BackendName, describeEachStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { createScenario, LEASE_MS, remoteTask, report, type Scenario } from './support/harness.js';

const API_SERVER = fileURLToPath(new URL('./fixtures/a-api-server.ts', import.meta.url));
const GRACE_MS = 5_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describeEachStore('A. shutdown and API crash', (backend: BackendName) => {
  let scenario: Scenario;
  let baton: Baton;
  afterEach(async () => {
    await scenario?.cleanup();
  });

  it('#6 SIGTERM: nothing new claimed, 20 short runs finish on W1, 5 long ones are aborted, released and re-run by W2 at once; exit 0 within grace + 1 s', async () => {
    scenario = await createScenario(backend);
    baton = scenario.baton();
    const w1 = await scenario.startWorker('w1', { WORKER_SLOTS: '25', WORKER_SHUTDOWN_TIMEOUT: `${GRACE_MS}ms` });
    const hold = remoteTask<{ ms: number; holdOn?: string }, string>(baton, 'hold');
    const noop = remoteTask<unknown, unknown>(baton, 'noop');
    const short = await hold.enqueueMany(Array.from({ length: 20 }, () => ({ input: { ms: 2_000 } })));
    const long = await hold.enqueueMany(Array.from({ length: 5 }, () => ({ input: { ms: 60_000, holdOn: 'w1' } })));
    await waitFor(() => scenario.calls({ task: 'hold' }).length === 25, { timeout: 20_000, message: '25 runs started on w1' });
    const w2 = await scenario.startWorker('w2', { WORKER_SLOTS: '10' });
    const signalledAt = Date.now();
    w1.child.kill('SIGTERM');
    const later = await noop.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ input: { i } })));
    const exitCode = await w1.exited;
    const exitedAfter = Date.now() - signalledAt;
    expect(exitCode).toBe(0);
    expect(exitedAfter).toBeLessThanOrEqual(GRACE_MS + 1_000 + 1_500); // + process teardown on a loaded 2-core machine

    expect(await Promise.all(short.map((h) => h.result()))).toEqual(Array.from({ length: 20 }, () => 'w1'));
    expect(await Promise.all(long.map((h) => h.result()))).toEqual(Array.from({ length: 5 }, () => 'w2'));
    await Promise.all(later.map((h) => h.result()));
    expect(scenario.calls({ task: 'noop' }).every((c) => c.worker === 'w2')).toBe(true);
    const w1Aborted = scenario.calls({ task: 'hold', step: 'aborted' }).filter((c) => c.worker === 'w1');
    expect(new Set(w1Aborted.map((c) => c.runId))).toEqual(new Set(long.map((h) => h.id)));
    const restarts = long.map((h) =>
      scenario.calls({ runId: h.id, task: 'hold' }).find((c) => c.worker === 'w2' && c.step === undefined),
    );
    const restartLatency = Math.max(...restarts.map((c) => (c?.at ?? Number.POSITIVE_INFINITY) - (signalledAt + GRACE_MS)));
    expect(restartLatency).toBeLessThan(LEASE_MS); // released, not left to its lease
    for (const h of long) {
      const attempts = await scenario.sql<{ outcome: string | null; attempt: number }>(
        'SELECT outcome, attempt FROM attempts WHERE run_id = $1 ORDER BY epoch',
        [h.id],
      );
      expect(attempts).toEqual([
        { outcome: 'released', attempt: 0 },
        { outcome: 'completed', attempt: 0 },
      ]);
    }
    report(
      `#6 ${backend}: W1 exited 0 ${exitedAfter} ms after SIGTERM (grace ${GRACE_MS} ms); long runs re-started on W2 ${restartLatency} ms after the grace ended`,
    );
    await w2.stop();
    await scenario.assertInvariants();
  });

  it('#7 the API process dies after committing an idempotent create: 3 retries against the restarted server return the one run (200)', async () => {
    scenario = await createScenario(backend);
    baton = scenario.baton();
    const port = await freePort();
    const token = 'reliability-token-7';
    const env = { ...scenario.env, BATON_TOKEN: token, BATON_HTTP_PORT: String(port) };
    const doomed = await startWorkerProcess(API_SERVER, { ...env, CRASH_AFTER_COMMIT: '1' });
    const request = () =>
      fetch(`http://127.0.0.1:${port}/api/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': 'k' },
        body: JSON.stringify({ task: 'noop', input: { order: 7 } }),
      });
    await expect(request()).rejects.toThrow(); // the connection died with the process
    expect(await doomed.exited).toBe('SIGKILL');
    await startWorkerProcess(API_SERVER, env);
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const response = await request();
      answers.push({ status: response.status, body: (await response.json()) as { id: string; outcome: string } });
    }
    const rows = await scenario.sql<{ id: string }>("SELECT id FROM runs WHERE task_name = 'noop'");
    expect(rows).toHaveLength(1);
    expect(answers).toEqual(
      Array.from({ length: 3 }, () => ({
        status: 200,
        body: expect.objectContaining({ id: rows[0]?.id, outcome: 'deduplicated' }),
      })),
    );
    report(`#7 ${backend}: 1 run for the key; 3/3 retries answered 200 with its id`);
    await scenario.assertInvariants();
  });
});
