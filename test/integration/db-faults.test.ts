/**
 * Regression tests for database faults found by the reliability suite (RELIABILITY.md section E),
 * each made deterministic here by holding a lock with a raw connection:
 * - a durable parent that suspends on a child while the child ends is still woken (PostgreSQL:
 *   the two transactions used to miss each other under READ COMMITTED, leaving it Waiting forever);
 * - likewise an event pushed while a run registers its wait for that event;
 * - a transaction whose connection dies before COMMIT is run again, not failed;
 * - a read on a pooled connection the server closed is run again;
 * - a silent (blackholed) connection fails a call within the query timeout, and the pool recovers;
 * - a silent LISTEN connection is found by its ping and replaced;
 * - SQLite's WAL file is cut back after a reset (journal_size_limit), whatever a long reader grew it to;
 * - repeated background failures are logged once per interval, not once per try.
 */
import { randomUUID } from 'node:crypto';
import { Baton, StorageError } from 'baton';
import { TestClock } from 'baton/testing';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RepeatedWarning } from '../../src/logger.js';
import { notifierFor } from '../../src/store/notifier.js';
import { type PgModule, QUERY_TIMEOUT_MS } from '../../src/store/postgres/connection.js';
import { NotifyListener } from '../../src/store/postgres/listener.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { startTcpProxy } from '../reliability/support/tcp-proxy.js';
import { newRun } from '../support/new-run.js';
import { createFixture, describeEachStore, PG_URL, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

const NS = 'default';
const LEASE = 60_000;

describeEachStore('database faults', (backend) => {
  let fixture: StoreFixture;
  let clock: TestClock;
  let store: Store;
  const clients: pg.Client[] = [];

  beforeEach(async () => {
    fixture = await createFixture(backend);
    clock = new TestClock(new Date('2030-01-01T00:00:00Z'));
    store = await fixture.baton({ clock }).store();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
    await fixture.cleanup();
  });

  async function claim(workerId: string, taskNames: string[]) {
    return store.claimRuns({ namespace: NS, workerId, taskNames, limit: 10, leaseMs: LEASE });
  }

  /** A raw connection on the fixture's schema, closed after the test. */
  async function raw(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5_000 });
    client.on('error', () => undefined);
    await client.connect();
    await client.query(`SET search_path TO "${fixture.options.schema}"`);
    clients.push(client);
    return client;
  }

  /** Pids of this schema's statements waiting for a lock whose text matches `like`. */
  async function lockWaiters(admin: pg.Client, like: string): Promise<number[]> {
    const result = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1 AND query LIKE $2`,
      [`%${fixture.options.schema}%`, like],
    );
    return result.rows.map((r) => r.pid);
  }

  it.runIf(backend === 'postgres')('a parent suspending on a child that ends meanwhile is woken, not left Waiting', async () => {
    const parent = newRun({ taskName: 'task-a' });
    const child = newRun({ taskName: 'task-b', parentRunId: parent.id, parentWorkflowRunId: parent.id });
    await store.createRuns(NS, [parent]);
    expect(await claim('w1', ['task-a'])).toHaveLength(1);
    await store.createRuns(NS, [child]);
    expect(await claim('w2', ['task-b'])).toHaveLength(1);

    // Hold the parent's attempt row: its suspend stops just before COMMIT, after its own checks.
    const holder = await raw();
    const admin = await raw();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM attempts WHERE run_id = $1 FOR UPDATE', [parent.id]);
    const suspending = store.settle(
      [],
      [
        {
          kind: 'suspend',
          runId: parent.id,
          epoch: 1,
          wakeAt: null,
          waitingOn: { reason: 'durable-wait', message: 'waiting for the child', childRunId: child.id },
          waitForRunId: child.id,
        },
      ],
    );
    await waitFor(async () => (await lockWaiters(admin, '%attempts%')).length > 0, { message: 'the suspend to wait' });
    const completing = store.settle([], [{ kind: 'complete', runId: child.id, epoch: 1, output: '2' }]);
    // Before the fix the completion committed here at once, not seeing the parent Waiting.
    await Promise.race([completing, new Promise((r) => setTimeout(r, 300))]);
    await holder.query('ROLLBACK');
    expect(await suspending).toEqual(['Waiting']);
    expect(await completing).toEqual(['Completed']);
    const woken = await claim('w1', ['task-a']);
    expect(woken.map((r) => r.id)).toEqual([parent.id]);
  });

  it.runIf(backend === 'postgres')('an event pushed while a run registers its wait wakes the run', async () => {
    const run = newRun();
    await store.createRuns(NS, [run]);
    expect(await claim('w1', ['task-a'])).toHaveLength(1);
    const holder = await raw();
    const admin = await raw();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM attempts WHERE run_id = $1 FOR UPDATE', [run.id]);
    const suspending = store.settle(
      [],
      [
        {
          kind: 'suspend',
          runId: run.id,
          epoch: 1,
          wakeAt: null,
          waitingOn: { reason: 'durable-wait', message: 'waiting for order.paid', signalKey: 'paid' },
          eventWait: { keys: ['order.paid'], since: clock.now(), seenEventIds: [] },
        },
      ],
    );
    await waitFor(async () => (await lockWaiters(admin, '%attempts%')).length > 0, { message: 'the suspend to wait' });
    const pushing = store.pushEvent(
      { id: randomUUID(), namespace: NS, key: 'order.paid', payload: '{}', metadata: {}, time: clock.now() },
      [],
    );
    // Before the fix the push committed here at once, not seeing the run Waiting.
    await Promise.race([pushing, new Promise((r) => setTimeout(r, 300))]);
    await holder.query('ROLLBACK');
    expect(await suspending).toEqual(['Waiting']);
    expect((await pushing).outcome).toBe('created');
    const woken = await claim('w1', ['task-a']);
    expect(woken.map((r) => r.id)).toEqual([run.id]);
  });

  it.runIf(backend === 'postgres')('a transaction whose connection dies before COMMIT is run again', async () => {
    const run = newRun();
    await store.createRuns(NS, [run]);
    expect(await claim('w1', ['task-a'])).toHaveLength(1);
    const holder = await raw();
    const admin = await raw();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM runs WHERE id = $1 FOR UPDATE', [run.id]);
    const step = { key: 's1', seq: 0, kind: 'step' as const, output: '"one"', error: null, attempt: 0 };
    const recording = store.recordSteps([{ lease: { runId: run.id, epoch: 1 }, steps: [step] }]);
    const [first] = await waitFor(
      async () => {
        const pids = await lockWaiters(admin, '%FOR UPDATE%');
        return pids.length > 0 ? pids : undefined;
      },
      { message: 'the record to wait for the run row' },
    );
    await admin.query('SELECT pg_terminate_backend($1)', [first]);
    // The retry (on a new connection) waits for the row again; then the holder lets go.
    await waitFor(async () => (await lockWaiters(admin, '%FOR UPDATE%')).some((pid) => pid !== first), {
      message: 'the record to be retried',
    });
    await holder.query('ROLLBACK');
    expect(await recording).toEqual([true]);
    expect((await store.loadSteps(run.id)).map((s) => [s.key, s.output])).toEqual([['s1', '"one"']]);
  });

  it.runIf(backend === 'postgres')('a read on a pooled connection the server closed is run again', async () => {
    const run = newRun();
    await store.createRuns(NS, [run]);
    await Promise.all([store.getRun(NS, run.id), store.getRun(NS, run.id), store.getRun(NS, run.id)]);
    const admin = await raw();
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND state = 'idle' AND query LIKE $1 AND query NOT LIKE 'LISTEN%'`,
      [`%${fixture.options.schema}%`],
    );
    const reads = await Promise.all([store.getRun(NS, run.id), store.getRun(NS, run.id), store.getRun(NS, run.id)]);
    expect(reads.map((r) => r?.id)).toEqual([run.id, run.id, run.id]);
  });

  it.runIf(backend === 'postgres')(
    'a silent (blackholed) connection fails a call within the query timeout, and the pool recovers after the heal',
    async () => {
      const target = new URL(PG_URL);
      const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
      const baton = new Baton({ database: proxy.url(PG_URL), schema: fixture.options.schema as string, logLevel: 'silent' });
      try {
        const viaProxy = await baton.store();
        const run = newRun();
        await viaProxy.createRuns(NS, [run]);
        proxy.setMode('blackhole');
        const started = performance.now();
        const error = await viaProxy.getRun(NS, run.id).then(
          () => undefined,
          (e: unknown) => e,
        );
        const elapsed = performance.now() - started;
        expect(error).toBeInstanceOf(StorageError);
        expect((error as StorageError).retryable).toBe(true);
        expect(elapsed).toBeGreaterThanOrEqual(QUERY_TIMEOUT_MS - 1_000);
        expect(elapsed).toBeLessThan(QUERY_TIMEOUT_MS + 5_000);
        proxy.setMode('pass');
        expect((await viaProxy.getRun(NS, run.id))?.id).toBe(run.id);
      } finally {
        await baton.close();
        await proxy.close();
      }
    },
    QUERY_TIMEOUT_MS + 20_000,
  );

  it.runIf(backend === 'postgres')(
    'a LISTEN connection gone silent is found by its ping and replaced; wake-ups arrive again',
    async () => {
      const target = new URL(PG_URL);
      const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
      const channel = `baton_test_listen_${randomUUID().slice(0, 8)}`;
      const identity = `test-listener:${channel}`;
      const listener = new NotifyListener(pg as unknown as PgModule, proxy.url(PG_URL), channel, identity, 'test', {
        pingIntervalMs: 100,
        pingTimeoutMs: 300,
      });
      const woken: string[] = [];
      const unsubscribe = notifierFor(identity).onRunsAvailable((ns) => woken.push(ns));
      const admin = await raw();
      const listeners = async () =>
        (
          await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE query = $1', [`LISTEN "${channel}"`])
        ).rows.map((r) => r.pid);
      const notify = (ns: string) =>
        admin.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify({ p: 'another-process', e: [{ t: 'available', ns }] })]);
      try {
        listener.start();
        const [first] = await waitFor(
          async () => {
            const pids = await listeners();
            return pids.length > 0 ? pids : undefined;
          },
          { message: 'the first LISTEN' },
        );
        proxy.setMode('blackhole');
        await notify('lost');
        proxy.setMode('pass');
        // The blackholed connection stays open and silent; only its ping can tell.
        await waitFor(async () => (await listeners()).some((pid) => pid !== first), { timeout: 10_000, message: 'a new LISTEN' });
        await waitFor(
          async () => {
            await notify('again');
            return woken.includes('again');
          },
          { timeout: 5_000, interval: 100, message: 'a wake-up through the new connection' },
        );
      } finally {
        unsubscribe();
        await listener.close();
        await proxy.close();
      }
    },
  );

  it.runIf(backend === 'sqlite')('limits the WAL file kept after a reset (journal_size_limit)', async () => {
    const limit = (store as SqliteStore).connection.db.pragma('journal_size_limit', { simple: true });
    expect(limit).toBe(32 * 1024 * 1024);
  });
});

describe('RepeatedWarning', () => {
  it('logs the first failure at once, then at most one line per interval with the count left out; reset logs the next at once', async () => {
    const lines: { fields: Record<string, unknown>; msg: string | undefined }[] = [];
    const record = (fields: object, msg?: string) => lines.push({ fields: fields as Record<string, unknown>, msg });
    const logger = { debug: record, info: record, warn: record, error: record };
    const warning = new RepeatedWarning(100);
    for (let i = 0; i < 5; i++) warning.warn(logger, { i }, 'heartbeat failed');
    expect(lines).toEqual([{ fields: { i: 0 }, msg: 'heartbeat failed' }]);
    await waitFor(
      () => {
        warning.warn(logger, { i: 'later' }, 'heartbeat failed');
        return lines.length === 2;
      },
      { timeout: 2_000, interval: 20 },
    );
    expect(lines[1]?.fields).toMatchObject({ i: 'later' });
    expect(Number(lines[1]?.fields.repeatsNotLogged)).toBeGreaterThanOrEqual(4);
    warning.reset();
    warning.warn(logger, { i: 'after reset' }, 'heartbeat failed');
    expect(lines).toHaveLength(3);
  });
});
