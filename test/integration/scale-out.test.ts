/**
 * Scale-out: several worker processes on one database (test/fixtures/worker-process.ts).
 * Every run completes exactly once, work spreads over the processes, a SIGKILLed
 * worker's runs are re-run elsewhere after its lease, dropped PostgreSQL
 * connections lose nothing, and concurrent migrations apply once. Every wait is
 * a poll with a deadline.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Baton, StateName, Task } from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { migrations as postgresMigrations } from '../../src/store/postgres/migrations.generated.js';
import { migrations as sqliteMigrations } from '../../src/store/sqlite/migrations.generated.js';
import type { AttemptRow, Store } from '../../src/store/types.js';
import { killWorkerProcesses, startWorkerProcess } from '../support/processes.js';
import { createFixture, describeEachStore, PG_URL, type StoreFixture } from '../support/stores.js';

const WORKER_SCRIPT = fileURLToPath(new URL('../fixtures/worker-process.ts', import.meta.url));
const NON_TERMINAL: StateName[] = ['Scheduled', 'Pending', 'AwaitingRetry', 'Running', 'Retrying', 'Waiting', 'Cancelling'];

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function countRuns(store: Store, namespace: string, statuses: StateName[], max = 1_000_000): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await store.listRuns({ namespace, statuses, limit: 1_000, cursor });
    count += page.items.length;
    cursor = page.nextCursor;
  } while (cursor && count < max);
  return count;
}

/** Every run's attempts, read through the store, a few queries at a time. */
async function attemptsOf(store: Store, ids: readonly string[]): Promise<Map<string, AttemptRow[]>> {
  const result = new Map<string, AttemptRow[]>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        result.set(id, await store.listAttempts(id));
      }
    }),
  );
  return result;
}

function executions(file: string): Map<string, string[]> {
  const byRun = new Map<string, string[]>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return byRun;
  }
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [runId, worker] = line.split(' ') as [string, string];
    byRun.set(runId, [...(byRun.get(runId) ?? []), worker]);
  }
  return byRun;
}

async function enqueueInBatches(task: Task<unknown, unknown>, total: number, batch: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < total; i += batch) {
    const count = Math.min(batch, total - i);
    const handles = await task.enqueueMany(Array.from({ length: count }, (_, j) => ({ input: { n: i + j } })));
    ids.push(...handles.map((h) => h.id));
  }
  return ids;
}

describeEachStore('scale-out across worker processes', (backend) => {
  let fixture: StoreFixture;
  let dir: string;
  let baton: Baton;
  let store: Store;
  const isPg = backend === 'postgres';

  beforeEach(async () => {
    fixture = await createFixture(backend);
    dir = mkdtempSync(join(tmpdir(), 'baton-scale-'));
    baton = fixture.baton();
  });

  afterEach(async () => {
    await killWorkerProcesses();
    await fixture.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  function workerEnv(name: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...fixture.env,
      WORKER_NAME: name,
      WORKER_SLOTS: '50',
      WORKER_LEASE: '2s',
      BATON_SWEEP_INTERVAL: '500ms',
      FIXTURE_EXEC_FILE: join(dir, 'executions.log'),
      ...extra,
    };
  }

  it(isPg ? '4 processes drain 20,000 runs, each exactly once' : '2 processes drain 4,000 runs, each exactly once', async () => {
    const processes = isPg ? 4 : 2;
    const total = isPg ? 20_000 : 4_000;
    const task = baton.task({ name: 'record', retries: 0 }, async () => null) as Task<unknown, unknown>;
    store = await baton.store();
    const workers = await Promise.all(
      Array.from({ length: processes }, (_, i) => startWorkerProcess(WORKER_SCRIPT, workerEnv(`w${i + 1}`))),
    );
    const begin = performance.now();
    const ids = await enqueueInBatches(task, total, 1_000);
    await waitFor('every run to finish', async () => (await countRuns(store, 'default', NON_TERMINAL, 1)) === 0, 60_000, 100);
    const seconds = (performance.now() - begin) / 1000;
    console.info(
      `[${backend}] ${processes} worker processes drained ${total} runs in ${seconds.toFixed(2)} s (${Math.round(total / seconds)} runs/s)`,
    );

    expect(await countRuns(store, 'default', ['Completed'])).toBe(total);
    const attempts = await attemptsOf(store, ids);
    const counts = new Map<number, number>();
    for (const rows of attempts.values()) counts.set(rows.length, (counts.get(rows.length) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ 1: total });
    expect([...attempts.values()].every((rows) => rows[0]?.outcome === 'completed')).toBe(true);

    const executed = executions(join(dir, 'executions.log'));
    expect(executed.size).toBe(total);
    expect([...executed.values()].every((by) => by.length === 1)).toBe(true);
    const share = new Map<string, number>();
    for (const [worker] of executed.values()) share.set(worker as string, (share.get(worker as string) ?? 0) + 1);
    expect([...share.keys()].sort()).toEqual(workers.map((w) => w.name).sort());
    for (const count of share.values()) expect(count).toBeGreaterThan(total / processes / 10);

    const codes = await Promise.all(workers.map((w) => w.stop()));
    expect(codes).toEqual(workers.map(() => 0));
  }, 120_000);

  it('a SIGKILLed worker holding 50 runs: all 50 re-run on another worker after the lease and complete', async () => {
    const task = baton.task({ name: 'sleepy', retries: 0 }, async () => null) as Task<unknown, unknown>;
    store = await baton.store();
    const victim = await startWorkerProcess(WORKER_SCRIPT, workerEnv('victim', { FIXTURE_HOLD: '1', WORKER_LEASE: '1s' }));
    const handles = await task.enqueueMany(Array.from({ length: 50 }, () => ({ input: { ms: 20 } })));
    const ids = handles.map((h) => h.id);
    await waitFor('the victim to hold all 50 runs', async () => (await countRuns(store, 'default', ['Running'])) === 50, 20_000);
    // …and to have started all 50 task functions.
    await waitFor('the victim to start all 50', async () => executions(join(dir, 'executions.log')).size === 50, 20_000);

    expect(await victim.kill()).toBe('SIGKILL');
    const rescuer = await startWorkerProcess(WORKER_SCRIPT, workerEnv('rescuer', { WORKER_LEASE: '1s' }));
    await waitFor('all 50 runs to complete', async () => (await countRuns(store, 'default', ['Completed'])) === 50, 30_000, 100);

    expect(await countRuns(store, 'default', NON_TERMINAL)).toBe(0);
    for (const handle of handles) expect(await handle.result()).toBe('rescuer');
    const attempts = await attemptsOf(store, ids);
    for (const rows of attempts.values()) {
      expect(rows.map((a) => a.outcome)).toEqual(['lease_expired', 'completed']);
    }
    const states = await handles[0]?.states();
    expect(states?.map((s) => s.name)).toEqual(['Pending', 'Running', 'Pending', 'Running', 'Completed']);
    const executed = executions(join(dir, 'executions.log'));
    expect([...new Set([...executed.values()].map((by) => by.join(',')))]).toEqual(['victim,rescuer']);
    expect(executed.size).toBe(50);
    expect(await rescuer.stop()).toBe(0);
  }, 60_000);

  it.runIf(isPg)(
    'survives pg_terminate_backend on the workers\u2019 connections mid-load',
    async () => {
      const { default: pg } = await import('pg');
      const appName = `bt_${fixture.env.BATON_SCHEMA}`.slice(0, 60);
      const total = 5_000;
      const task = baton.task({ name: 'record', retries: 0 }, async () => null) as Task<unknown, unknown>;
      store = await baton.store();
      const workers = await Promise.all(
        [1, 2, 3].map((i) => startWorkerProcess(WORKER_SCRIPT, workerEnv(`w${i}`, { PGAPPNAME: appName, WORKER_LEASE: '3s' }))),
      );
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      let terminated = 0;
      let rounds = 0;
      try {
        const ids = await enqueueInBatches(task, total, 1_000);
        await waitFor(
          'every run to finish while connections are being dropped',
          async () => {
            if (rounds < 8) {
              rounds++;
              const result = await admin.query(
                'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
                [appName],
              );
              terminated += result.rowCount ?? 0;
            }
            return rounds >= 8 && (await countRuns(store, 'default', NON_TERMINAL, 1)) === 0;
          },
          60_000,
          250,
        );
        expect(terminated).toBeGreaterThan(0);
        expect(await countRuns(store, 'default', ['Completed'])).toBe(total);
        const attempts = await attemptsOf(store, ids);
        for (const rows of attempts.values()) {
          expect(rows.filter((a) => a.outcome === 'completed')).toHaveLength(1);
        }
        const executed = executions(join(dir, 'executions.log'));
        expect(executed.size).toBe(total);
        // A run runs again only after its lease expired (its worker could not reach the database
        // for a whole lease), so never more often than it has attempts; most run exactly once.
        for (const [id, by] of executed) expect(by.length).toBeLessThanOrEqual(attempts.get(id)?.length ?? 0);
        const again = [...executed.values()].filter((by) => by.length > 1).length;
        console.info(`[postgres] ${terminated} connections terminated; ${again} of ${total} runs re-ran after a lost lease`);
      } finally {
        await admin.end();
      }
      const codes = await Promise.all(workers.map((w) => w.stop()));
      expect(codes).toEqual([0, 0, 0]);
    },
    90_000,
  );

  it.runIf(isPg)(
    'LISTEN/NOTIFY wakes an idle worker in another process long before its next poll',
    async () => {
      const task = baton.task({ name: 'noop', retries: 0 }, async () => null) as Task<unknown, unknown>;
      store = await baton.store();
      const worker = await startWorkerProcess(WORKER_SCRIPT, workerEnv('idle', { WORKER_POLL: '60s' }));
      // Let the worker finish its first (empty) claim and go idle on its 60 s poll.
      await waitFor(
        'the worker to register',
        async () => (await store.listWorkers('default', { liveOnly: true })).length === 1,
        10_000,
      );
      const begin = performance.now();
      const handle = await task.enqueue({ hello: 'world' });
      await waitFor('the run to complete', async () => (await handle.state()).name === 'Completed', 10_000, 20);
      const elapsed = performance.now() - begin;
      expect(elapsed).toBeLessThan(10_000);
      expect(await handle.result()).toEqual({ hello: 'world' });
      expect(await worker.stop()).toBe(0);
    },
    30_000,
  );

  it('three processes migrating a fresh database at once apply each migration exactly once', async () => {
    const env = { ...fixture.env, FIXTURE_MIGRATE_ONLY: '1' };
    const processes = await Promise.all(
      [1, 2, 3].map((i) => startWorkerProcess(WORKER_SCRIPT, { ...env, WORKER_NAME: `m${i}` })),
    );
    expect(await Promise.all(processes.map((p) => p.exited))).toEqual([0, 0, 0]);
    let rows: { id: number; name: string }[];
    if (isPg) {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        const schema = `"${(fixture.env.BATON_SCHEMA as string).replace(/"/g, '""')}"`;
        rows = (await client.query(`SELECT id, name FROM ${schema}.baton_migrations ORDER BY id`)).rows;
      } finally {
        await client.end();
      }
    } else {
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(fixture.env.BATON_DATABASE_URL as string, { readonly: true });
      try {
        rows = db.prepare('SELECT id, name FROM baton_migrations ORDER BY id').all() as { id: number; name: string }[];
      } finally {
        db.close();
      }
    }
    const expected = (isPg ? postgresMigrations : sqliteMigrations).map((m) => ({ id: m.id, name: m.name }));
    expect(expected.length).toBeGreaterThan(0);
    expect(rows).toEqual(expected);
    // The store opens on the migrated database and works.
    store = await baton.store();
    expect(await countRuns(store, 'default', NON_TERMINAL)).toBe(0);
  }, 60_000);
});
