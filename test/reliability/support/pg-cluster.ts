/**
 * A throwaway PostgreSQL cluster the reliability tests own (RELIABILITY.md §5.0): `initdb` into a
 * fresh temp folder as the `postgres` OS user (initdb refuses root), trust auth, a spare TCP port
 * on 127.0.0.1, unix sockets inside the folder. The tests may restart it (`-m immediate` is a
 * crash), stop/start it, change settings with ALTER SYSTEM and terminate backends; the shared
 * server on 5432 is never touched.
 *
 * Durability to disk is OFF for speed (fsync, full_page_writes): an immediate shutdown still
 * kills every backend without a checkpoint and runs crash recovery on start, so clients see
 * exactly what they see after a real crash (connections reset, 57P01/57P03 while it starts), and
 * no committed transaction is lost (WAL reaches the OS at commit; synchronous_commit stays on,
 * because with it off a process crash would drop the last commits, which a real server does not
 * do); only an OS crash or power loss could lose data here, and no scenario simulates that.
 *
 * Every wait is bounded (`pg_ctl -w -t 30`, client connect timeouts). `destroy()` stops the
 * server and removes the folder; a process 'exit' hook stops (`-m immediate`) any cluster still
 * running, synchronously, so a failed or aborted test run never leaves a postgres behind.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PgClusterOptions {
  /** `max_connections` (needs a restart to change; default 100). */
  maxConnections?: number;
  /** More postgresql.conf settings, written before the first start. */
  settings?: Record<string, string | number>;
}

export interface BackendRow {
  pid: number;
  /** `pg_stat_activity.query`: the last statement (e.g. `LISTEN "baton_x"` for Baton's listener). */
  query: string;
  state: string | null;
  applicationName: string;
  datname: string | null;
  clientPort: number | null;
}

export interface PgCluster {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` */
  readonly url: string;
  readonly port: number;
  /** The temp folder (data directory in `data/`, server log in `postgres.log`, sockets here). */
  readonly dir: string;
  readonly logFile: string;
  /** `pg_ctl restart`: `immediate` is a crash (no checkpoint, crash recovery on start). */
  restart(options: { mode: 'immediate' | 'fast' }): Promise<void>;
  stop(options?: { mode?: 'immediate' | 'fast' }): Promise<void>;
  start(): Promise<void>;
  /** One statement on a short-lived superuser connection. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** `ALTER SYSTEM SET name = value` (`null`: RESET) and `pg_reload_conf()`. */
  alterSystem(name: string, value: string | number | null): Promise<void>;
  /** Client backends other than the caller's, in every database. */
  backends(): Promise<BackendRow[]>;
  /** `pg_terminate_backend` of the client backends `filter` accepts (default: all); returns their pids. */
  terminateBackends(filter?: (row: BackendRow) => boolean): Promise<number[]>;
  /** Stops the server (immediate) and removes the folder. Safe to call twice. */
  destroy(): Promise<void>;
}

const PG_CTL_TIMEOUT_S = 30;
const live = new Set<{ bin: string; data: string; dir: string }>();
let isExitHookInstalled = false;

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const override = process.env.BATON_TEST_PG_BIN;
  if (override) return override;
  let versions: string[] = [];
  try {
    versions = execFileSync('ls', [root], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
  } catch {
    // handled below
  }
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL binaries under ${root}; set BATON_TEST_PG_BIN`);
  return join(root, newest, 'bin');
}

/** Runs a PostgreSQL binary as the `postgres` OS user (when we are root), bounded in time. */
function runAsPostgres(bin: string, args: string[], timeoutMs = (PG_CTL_TIMEOUT_S + 10) * 1000): Promise<string> {
  const isRoot = process.getuid?.() === 0;
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${bin} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function runAsPostgresSync(bin: string, args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  try {
    execFileSync(file, argv, { timeout: (PG_CTL_TIMEOUT_S + 5) * 1000, stdio: 'ignore' });
  } catch {
    // best effort: the server may already be down
  }
}

function installExitHook(): void {
  if (isExitHookInstalled) return;
  isExitHookInstalled = true;
  process.on('exit', () => {
    for (const cluster of live) {
      runAsPostgresSync(join(cluster.bin, 'pg_ctl'), ['stop', '-D', cluster.data, '-m', 'immediate', '-w', '-t', '10']);
      rmSync(cluster.dir, { recursive: true, force: true });
    }
    live.clear();
  });
}

/** A port nobody listens on right now (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function literal(value: string | number): string {
  return `'${String(value).replace(/'/g, "''")}'`;
}

export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'baton-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const isRoot = process.getuid?.() === 0;
  const pgUid = isRoot ? Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()) : undefined;
  const pgGid = isRoot ? Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()) : undefined;
  if (pgUid !== undefined && pgGid !== undefined) chownSync(dir, pgUid, pgGid);
  const entry = { bin, data, dir };
  installExitHook();

  await runAsPostgres(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  const port = await freePort();
  const settings: Record<string, string | number> = {
    port,
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    max_connections: options.maxConnections ?? 100,
    superuser_reserved_connections: 3,
    shared_buffers: '32MB',
    fsync: 'off',
    full_page_writes: 'off',
    max_wal_size: '256MB',
    log_min_messages: 'warning',
    log_line_prefix: '%m [%p] ',
    ...options.settings,
  };
  const conf = Object.entries(settings)
    .map(([k, v]) => `${k} = ${typeof v === 'number' ? v : literal(v)}`)
    .join('\n');
  await appendFile(join(data, 'postgresql.conf'), `\n# baton reliability tests\n${conf}\n`);
  if (pgUid !== undefined && pgGid !== undefined) {
    writeFileSync(logFile, '');
    chownSync(logFile, pgUid, pgGid);
  }

  const pgCtl = (args: string[]) =>
    runAsPostgres(join(bin, 'pg_ctl'), [...args, '-D', data, '-w', '-t', String(PG_CTL_TIMEOUT_S)]);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let isRunning = false;
  let isDestroyed = false;

  const start = async () => {
    await pgCtl(['start', '-l', logFile]);
    isRunning = true;
  };
  live.add(entry);
  try {
    await start();
  } catch (error) {
    live.delete(entry);
    runAsPostgresSync(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '10']);
    let log = '';
    try {
      log = readFileSync(logFile, 'utf8').slice(-2_000);
    } catch {
      // no log
    }
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the test PostgreSQL cluster did not start: ${(error as Error).message}\n${log}`, { cause: error });
  }

  const sql = async <T>(text: string, params?: unknown[]): Promise<T[]> => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, query_timeout: 30_000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const result = await client.query(text, params);
      return result.rows as T[];
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  const backends = async (): Promise<BackendRow[]> =>
    sql<BackendRow>(
      `SELECT pid, coalesce(query, '') AS query, state, application_name AS "applicationName", datname,
              client_port AS "clientPort"
         FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    );

  return {
    url,
    port,
    dir,
    logFile,
    async restart({ mode }) {
      await pgCtl(['restart', '-m', mode, '-l', logFile]);
      isRunning = true;
    },
    async stop({ mode = 'fast' } = {}) {
      await pgCtl(['stop', '-m', mode]);
      isRunning = false;
    },
    start,
    sql,
    async alterSystem(name, value) {
      if (!/^[a-z_][a-z0-9_.]*$/.test(name)) throw new Error(`not a setting name: ${name}`);
      await sql(value === null ? `ALTER SYSTEM RESET ${name}` : `ALTER SYSTEM SET ${name} = ${literal(value)}`);
      await sql('SELECT pg_reload_conf()');
    },
    backends,
    async terminateBackends(filter = () => true) {
      const pids = (await backends()).filter(filter).map((row) => row.pid);
      if (pids.length > 0) await sql('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
      return pids;
    },
    async destroy() {
      if (isDestroyed) return;
      isDestroyed = true;
      if (isRunning) await pgCtl(['stop', '-m', 'immediate']).catch(() => undefined);
      isRunning = false;
      live.delete(entry);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
