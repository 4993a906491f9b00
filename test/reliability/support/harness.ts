/**
 * The reliability harness (../shared/RELIABILITY.md §5.0): one scenario = one database (a
 * SQLite file, or a fresh schema in a PostgreSQL the caller names), an `ext_calls` oracle
 * written by the worker fixture (test/reliability/fixtures/worker.ts) as JSON lines, an
 * `effects` table in Baton's own database for transactional steps, forked worker processes,
 * raw SQL on the engine's tables, and `assertInvariants()` (I1–I7).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Baton, type BatonOptions, type Task, type TaskOptions } from 'baton';
import Database from 'better-sqlite3';
import { startWorkerProcess, type WorkerProcess } from '../../support/processes.js';
import { type BackendName, PG_URL } from '../../support/stores.js';
import { checkInvariants, type InvariantOptions } from './invariants.js';

export const WORKER_FIXTURE = fileURLToPath(new URL('../fixtures/worker.ts', import.meta.url));

/** RELIABILITY.md's test parameters: lease L, heartbeat H = L/3, sweep S. */
export const LEASE_MS = 3_000;
export const SWEEP_MS = 1_000;

/** Long variants (RELIABILITY_FULL=1, `npm run test:reliability:full`) use the plan's full sizes. */
export const FULL = process.env.RELIABILITY_FULL === '1';

/** One real execution of handler code, as the worker fixture records it. */
export interface ExtCall {
  runId: string;
  task: string;
  /** The step (durable tasks) or point in the handler. */
  step?: string;
  attempt: number;
  pid: number;
  worker: string;
  /** Real time of the execution (ms since the epoch). */
  at: number;
  /** `ctx.idempotencyKey` inside a step. */
  key?: string;
  /** Anything else the fixture noted (a payload, a skewed ctx.now()). */
  data?: unknown;
}

export interface ScenarioOptions {
  /** PostgreSQL URL (a throwaway cluster, a proxy); default the shared test database. */
  databaseUrl?: string;
}

export interface Scenario {
  backend: BackendName;
  databaseUrl: string;
  schema: string | undefined;
  /** Environment for worker processes on this scenario's database. */
  env: Record<string, string>;
  /** A Baton in this process on the same database (closed by cleanup). */
  baton(options?: BatonOptions): Baton;
  /** Forks the worker fixture; `env` overrides the scenario's. */
  startWorker(name: string, env?: Record<string, string>): Promise<WorkerProcess>;
  /** Worker processes whose non-zero exit is the scenario's point (poison tasks). */
  allowCrash(worker: WorkerProcess): void;
  /** The oracle: every real execution, in write order. */
  calls(filter?: Partial<Pick<ExtCall, 'runId' | 'task' | 'step'>>): ExtCall[];
  /** Raw SQL on the engine's database: `$1` placeholders on both stores, tables unqualified. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** RELIABILITY.md I1–I7; throws naming every violation. */
  assertInvariants(options?: InvariantOptions): Promise<void>;
  /** Remembers the recorded steps now, so I3 can check later that none was overwritten. */
  snapshotSteps(): Promise<void>;
  cleanup(): Promise<void>;
}

interface WorkerRecord {
  worker: WorkerProcess;
  exit?: number | string | null;
  allowed: boolean;
}

export async function createScenario(backend: BackendName, options: ScenarioOptions = {}): Promise<Scenario> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-reliability-'));
  const callsFile = join(dir, 'ext_calls.jsonl');
  writeFileSync(callsFile, '');
  const schema = backend === 'postgres' ? `baton_rel_${randomBytes(5).toString('hex')}` : undefined;
  const databaseUrl = backend === 'postgres' ? (options.databaseUrl ?? PG_URL) : join(dir, 'baton.db');
  const effectsTable = schema ? `"${schema}".effects` : 'effects';
  const sql = backend === 'postgres' ? await postgresSql(databaseUrl, schema as string) : sqliteSql(databaseUrl);
  if (schema) await sql.run(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await sql.run(
    `CREATE TABLE IF NOT EXISTS ${effectsTable} (run_id text NOT NULL, step_key text NOT NULL, pid integer NOT NULL, PRIMARY KEY (run_id, step_key))`,
  );

  const env: Record<string, string> = {
    BATON_DATABASE_URL: databaseUrl,
    ...(schema ? { BATON_SCHEMA: schema } : {}),
    RELIABILITY_CALLS_FILE: callsFile,
    RELIABILITY_EFFECTS_TABLE: effectsTable,
    WORKER_LEASE: `${LEASE_MS}ms`,
    BATON_SWEEP_INTERVAL: `${SWEEP_MS}ms`,
  };
  const batons: Baton[] = [];
  const workers: WorkerRecord[] = [];
  const stepSnapshots: Map<string, string>[] = [];

  const scenario: Scenario = {
    backend,
    databaseUrl,
    schema,
    env,
    baton(batonOptions = {}) {
      const baton = new Baton({
        logLevel: 'silent',
        sweepInterval: SWEEP_MS,
        ...batonOptions,
        database: databaseUrl,
        ...(schema ? { schema } : {}),
      });
      batons.push(baton);
      return baton;
    },
    async startWorker(name, extra = {}) {
      const worker = await startWorkerProcess(WORKER_FIXTURE, { ...env, WORKER_NAME: name, ...extra });
      const record: WorkerRecord = { worker, allowed: false };
      workers.push(record);
      void worker.exited.then((code) => {
        record.exit = code;
      });
      return worker;
    },
    allowCrash(worker) {
      const record = workers.find((w) => w.worker === worker);
      if (record) record.allowed = true;
    },
    calls(filter = {}) {
      const text = existsSync(callsFile) ? readFileSync(callsFile, 'utf8') : '';
      const all = text
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as ExtCall);
      return all.filter(
        (c) =>
          (filter.runId === undefined || c.runId === filter.runId) &&
          (filter.task === undefined || c.task === filter.task) &&
          (filter.step === undefined || c.step === filter.step),
      );
    },
    sql: (text, params) => sql.query(text, params),
    async snapshotSteps() {
      const rows = await sql.query<{
        run_id: string;
        step_key: string;
        output: string | null;
        epoch: number;
        created_at: number;
      }>('SELECT run_id, step_key, output, epoch, created_at FROM steps');
      stepSnapshots.push(new Map(rows.map((r) => [`${r.run_id} ${r.step_key}`, `${r.output}|${r.epoch}|${r.created_at}`])));
    },
    async assertInvariants(invariantOptions = {}) {
      const crashed = workers
        .filter((w) => !w.allowed && typeof w.exit === 'number' && w.exit !== 0)
        .map((w) => `${w.worker.name} exited with code ${w.exit}`);
      await checkInvariants(
        { backend, query: sql.query, effectsTable: 'effects', stepSnapshots, processFailures: crashed },
        { leaseMs: LEASE_MS, sweepMs: SWEEP_MS, ...invariantOptions },
      );
    },
    async cleanup() {
      await Promise.all(workers.map((w) => (w.exit === undefined ? w.worker.kill() : undefined)));
      await Promise.all(batons.map((b) => b.close()));
      if (schema) await sql.run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await sql.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return scenario;
}

interface RawSql {
  query<T>(text: string, params?: unknown[]): Promise<T[]>;
  run(text: string): Promise<void>;
  close(): Promise<void>;
}

async function postgresSql(url: string, schema: string): Promise<RawSql> {
  const { default: pg } = await import('pg');
  // A fresh connection per call: scenarios restart and partition the database under it.
  const withClient = async <T>(fn: (client: InstanceType<typeof pg.Client>) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query(`SET search_path TO "${schema}", public`);
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  return {
    query: <T>(text: string, params?: unknown[]) =>
      withClient(async (c) => (await c.query(text, params)).rows.map((row) => numbersOf(row) as T)),
    run: (text) => withClient(async (c) => void (await c.query(text))),
    close: async () => undefined,
  };
}

function sqliteSql(file: string): RawSql {
  let db: Database.Database | undefined;
  const open = () => {
    db ??= new Database(file);
    db.pragma('busy_timeout = 5000');
    return db;
  };
  return {
    async query<T>(text: string, params: unknown[] = []) {
      // `$n` placeholders become positional `?`, with the values in the order they appear.
      const order: number[] = [];
      const statement = open().prepare(
        text.replace(/\$(\d+)/g, (_, n: string) => {
          order.push(Number(n) - 1);
          return '?';
        }),
      );
      const values = order.map((i) => params[i]);
      if (!statement.reader) {
        statement.run(...values);
        return [];
      }
      return statement.all(...values) as T[];
    },
    async run(text) {
      open().exec(text);
    },
    async close() {
      db?.close();
    },
  };
}

/** bigint columns arrive as strings from pg; the invariants compare numbers. */
function numbersOf(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] =
      typeof value === 'string' && /^-?\d{1,15}$/.test(value) && /(_at|epoch|count|attempt|n)$/.test(key) ? Number(value) : value;
  }
  return out;
}

/** Resolves when `worker` reports `{ type: 'blocked', point }` over IPC (the fixture's RELIABILITY_BLOCK). */
export function blockedAt(worker: WorkerProcess, point: string, timeoutMs = 30_000): Promise<{ runId: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.child.off('message', onMessage);
      reject(new Error(`${worker.name} did not reach ${point} within ${timeoutMs} ms`));
    }, timeoutMs);
    function onMessage(message: { type?: string; point?: string; runId?: string }) {
      if (message.type !== 'blocked' || message.point !== point) return;
      clearTimeout(timer);
      worker.child.off('message', onMessage);
      resolve({ runId: message.runId as string });
    }
    worker.child.on('message', onMessage);
  });
}

/** Prints one figure line the closing note collects (`grep '\[reliability\]'`). */
export function report(line: string): void {
  console.log(`[reliability] ${line}`);
}

/**
 * A handle on a task the worker fixture serves, for enqueueing from the test process. Its
 * function never runs here (this process runs no worker for it). Run-level options (maxCrashes,
 * timeouts, retries) are stored with each run by the enqueuer, so give them here when they matter.
 */
export function remoteTask<I, O>(
  baton: Baton,
  name: string,
  kind: 'task' | 'durable' = 'task',
  options: Omit<TaskOptions<I, O>, 'name'> = {},
): Task<I, O> {
  const fn = (): never => {
    throw new Error(`${name} runs in the worker fixture, not in the test process`);
  };
  // The overloads infer from a schema; these handles are typed by the caller instead.
  const definition = { ...options, name } as never;
  return (kind === 'durable' ? baton.durableTask<I, O>(definition, fn) : baton.task<I, O>(definition, fn)) as Task<I, O>;
}

/** A small seeded generator (mulberry32) in [0, 1), so a failing random fault can be replayed from its printed seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
