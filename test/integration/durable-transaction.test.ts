/**
 * ctx.transaction (DESIGN.md §2.2, RELIABILITY.md promise 2): a step's writes
 * through Baton's own connection commit with its record, so they happen exactly
 * once — across retries, and when the worker is killed before or after COMMIT.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Baton, RunFailedError } from 'baton';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { defineTxTask } from '../fixtures/tx-task.js';
import { type BackendName, createFixture, describeEachStore, PG_URL, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

describeEachStore('ctx.transaction', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;
  let table: string;
  let dir: string;
  let execFile: string;

  async function sql(text: string): Promise<Record<string, unknown>[]> {
    if (backend === 'sqlite') {
      const db = new Database(fixture.options.database as string);
      try {
        const statement = db.prepare(text);
        if (statement.reader) return statement.all() as Record<string, unknown>[];
        statement.run();
        return [];
      } finally {
        db.close();
      }
    }
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      return (await client.query(text)).rows;
    } finally {
      await client.end();
    }
  }

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton({ sweepInterval: '200ms' });
    await baton.store();
    table = `effects_${randomBytes(4).toString('hex')}`;
    const id = backend === 'sqlite' ? 'INTEGER PRIMARY KEY' : 'serial PRIMARY KEY';
    await sql(`CREATE TABLE ${table} (id ${id}, run_id text NOT NULL UNIQUE, amount integer NOT NULL)`);
    dir = mkdtempSync(join(tmpdir(), 'baton-tx-'));
    execFile = join(dir, 'exec.txt');
    writeFileSync(execFile, '');
  });
  afterEach(async () => {
    if (backend === 'postgres') await sql(`DROP TABLE IF EXISTS ${table}`);
    await fixture.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const executions = () => readFileSync(execFile, 'utf8').trim().split('\n').filter(Boolean);

  it('commits the write with the record: a retry of the task returns the record and writes nothing again', async () => {
    let attempts = 0;
    const task = baton.durableTask({ name: 'pay', retries: 1, retryDelay: 0 }, async (amount: number, ctx) => {
      attempts++;
      const row = await ctx.transaction('insert', async (tx) => {
        const result = await tx.query<{ id: number }>(`INSERT INTO ${table} (run_id, amount) VALUES ($1, $2) RETURNING id`, [
          ctx.taskRunId,
          amount,
        ]);
        return { id: result.rows[0]?.id, rowCount: result.rowCount };
      });
      if (ctx.attempt === 0) throw new Error('after the transaction');
      return row;
    });
    const worker = baton.worker({ name: 'w', tasks: [task] });
    await worker.start();
    const handle = await task.enqueue(42);
    expect(await handle.result({ timeout: '20s' })).toEqual({ id: 1, rowCount: 1 });
    expect(attempts).toBe(2);
    expect(await sql(`SELECT run_id, amount FROM ${table}`)).toEqual([{ run_id: handle.id, amount: 42 }]);
  });

  it('rolls the writes back when the step throws, and records its error', async () => {
    const task = baton.durableTask({ name: 'broken-sql' }, async (_: null, ctx) => {
      await ctx.transaction('two-writes', async (tx) => {
        await tx.query(`INSERT INTO ${table} (run_id, amount) VALUES ($1, $2)`, [ctx.taskRunId, 1]);
        await tx.query('INSERT INTO no_such_table_here (x) VALUES ($1)', [1]);
      });
    });
    const worker = baton.worker({ name: 'w', tasks: [task] });
    await worker.start();
    const error = (await (await task.enqueue(null)).result({ timeout: '20s' }).catch((e: unknown) => e)) as RunFailedError;
    expect(error.failure?.message).toMatch(/no_such_table_here/);
    expect(await sql(`SELECT * FROM ${table}`)).toEqual([]);
  });

  it('refuses a stale attempt: nothing it wrote commits', async () => {
    const task = baton.task({ name: 'holder' }, async () => 'x');
    const handle = await task.enqueue();
    const store = await baton.store();
    const [claimed] = await store.claimRuns({
      namespace: 'default',
      workerId: 'w1',
      taskNames: ['holder'],
      limit: 1,
      leaseMs: 60_000,
    });
    const result = await store.runStepTransaction(
      { runId: handle.id, epoch: (claimed?.leaseEpoch ?? 0) + 1 },
      { key: 'stale#1', seq: 0, attempt: 0 },
      async (tx) => tx.query(`INSERT INTO ${table} (run_id, amount) VALUES ($1, $2)`, ['stale', 1]),
      () => null,
    );
    expect(result).toEqual({ outcome: 'fenced' });
    expect(await sql(`SELECT * FROM ${table}`)).toEqual([]);
  });

  for (const hold of ['before-commit', 'after-commit'] as const) {
    it(`a worker killed ${hold.replace('-', ' ')}: the write exists exactly once`, async () => {
      const child = fork('test/fixtures/tx-process.ts', [], {
        execArgv: ['--import', 'tsx', '--conditions=baton-source'],
        env: { ...process.env, ...fixture.env, TX_TABLE: table, EXEC_FILE: execFile, HOLD: hold },
        stdio: 'ignore',
      });
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
      });
      const enqueuer = defineTxTask(baton, { table, execFile });
      const handle = await enqueuer.enqueue({ amount: 7 });
      await waitFor(() => executions().length === 1, { timeout: 20_000, message: 'the step ran in the child' });
      if (hold === 'after-commit') {
        await waitFor(async () => (await sql(`SELECT * FROM ${table}`)).length === 1, { message: 'the child committed' });
      }
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      const worker = baton.worker({ name: 'rescuer', tasks: [enqueuer], lease: '1s', pollInterval: '50ms' });
      await worker.start();
      const output = (await handle.result({ timeout: '30s' })) as { id: number };
      const rows = await sql(`SELECT id, run_id, amount FROM ${table}`);
      expect(rows).toEqual([{ id: output.id, run_id: handle.id, amount: 7 }]);
      // Before COMMIT the step ran again (its first write was rolled back); after COMMIT it did not.
      const lines = executions();
      expect(lines).toHaveLength(hold === 'before-commit' ? 2 : 1);
      expect(new Set(lines.map((l) => l.split(' ')[1]))).toEqual(new Set([`${handle.id}:charge`]));
    }, 60_000);
  }
});
