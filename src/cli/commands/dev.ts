/**
 * `baton dev <entry>`: local development. The dashboard and API (no login, 127.0.0.1)
 * stay up in this process; the worker runs as a child process (`baton worker <entry>`)
 * that is stopped gracefully and started again, with the entry imported afresh, when a
 * source file under the entry's folder changes. Uses `./.baton/dev.db` unless a
 * database is configured (`--database`, `BATON_DATABASE_URL`, a profile).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadSettings } from '../../settings/load-settings.js';
import {
  addGlobalOptions,
  CliError,
  EXIT,
  type GlobalOptions,
  globalOptions,
  inProfile,
  openBaton,
  resolveTarget,
} from '../context.js';
import { note } from '../output.js';
import { watchSourceFiles } from '../watch-files.js';
import { listenError, portArgument } from './serve.js';
import { DEV_WORKER_VARIABLE, exitSoon, exportGlobalOptions, printServing, stopSignal } from './worker.js';

/** Where `baton dev` keeps runs when no database is configured. */
export const DEV_DATABASE = './.baton/dev.db';
/** How long a restart lets the old worker's running attempts finish (the rest are re-queued at once). */
const RESTART_SHUTDOWN_TIMEOUT = '5s';
/** How long a stopping worker process may take before it is killed. */
const KILL_AFTER_MS = 15_000;

interface DevOptions {
  port?: string;
}

export function registerDevCommands(program: Command): void {
  const command = program
    .command('dev')
    .description('develop: the dashboard (no login, 127.0.0.1) and a worker for the entry, restarted when a source file changes')
    .argument('<entry>', 'a module exporting tasks and workflows defined on a Baton (.ts through tsx; .js, .mjs)')
    .option('--port <n>', 'dashboard port (default: BATON_HTTP_PORT, the profile, 8400; 0 picks a free one)')
    .addHelpText(
      'after',
      `
Runs are stored in ${DEV_DATABASE} unless --database, BATON_DATABASE_URL or the profile names a database.
Changes to .ts/.js/.json files under the entry's folder (not node_modules, dist or dot-folders) restart the worker.`,
    );
  addGlobalOptions(command).action(async (entry: string, options: DevOptions, self: Command) => {
    await runDev(entry, options, globalOptions(self));
  });
}

export async function runDev(entry: string, options: DevOptions, globals: GlobalOptions): Promise<void> {
  const port = options.port === undefined ? undefined : portArgument(options.port);
  const entryPath = resolve(entry);
  if (!isFile(entryPath)) throw new CliError(`entry ${entry}: no such file (resolved to ${entryPath})`, EXIT.usage);
  exportGlobalOptions(globals);
  const isDatabaseConfigured = inProfile(globals, () => loadSettings().sources.database.from !== 'default');
  if (!isDatabaseConfigured) process.env.BATON_DATABASE_URL = DEV_DATABASE;
  const target = resolveTarget(globals);

  const baton = await openBaton(globals, { mustExist: false });
  const stop = stopSignal('baton dev');
  let worker: DevWorker | undefined;
  let watcher: { close(): void } | undefined;
  try {
    const server = await baton
      .serve({ host: '127.0.0.1', auth: 'none', ...(port === undefined ? {} : { port }) })
      .catch((error) => {
        throw listenError(error, '127.0.0.1', port);
      });
    const devWorker = new DevWorker(entryPath);
    worker = devWorker;
    printServing(
      globals,
      { url: `${server.url}/` },
      `baton dev: dashboard at ${server.url}/ (no login, this machine only; ${target.describe})`,
    );
    devWorker.start();
    watcher = watchSourceFiles(
      dirname(entryPath),
      (files) => {
        const shown = files.length > 3 ? `${files.slice(0, 3).join(', ')} and ${files.length - 3} more` : files.join(', ');
        note(`baton dev: ${shown} changed, restarting the worker`);
        void devWorker.restart();
      },
      { onLimit: (count) => note(`baton dev: watching the first ${count} folders only; start dev on a smaller folder`) },
    );
    const reason = await stop.reason;
    note(`baton dev: ${reason}: stopping`);
  } finally {
    watcher?.close();
    await worker?.stop();
    stop.dispose();
    await baton.close();
    exitSoon();
  }
}

/** The worker child process: `baton worker <entry>`, started again on demand. */
class DevWorker {
  readonly #args: string[];
  readonly #expectedExits = new WeakSet<ChildProcess>();
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #restarting: Promise<void> | undefined;
  #isRestartQueued = false;
  #isClosed = false;

  constructor(entry: string) {
    this.#args = [...nodeFlags(), cliScript(), 'worker', entry, '--shutdown-timeout', RESTART_SHUTDOWN_TIMEOUT];
  }

  start(): void {
    if (this.#isClosed) return;
    const child = spawn(process.execPath, this.#args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, [DEV_WORKER_VARIABLE]: '1' },
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      child.on('error', (error) => {
        note(`baton dev: the worker process: ${error.message}`);
        resolve();
      });
      child.once('exit', (code, signal) => {
        if (this.#child === child) this.#child = undefined;
        if (!this.#expectedExits.has(child) && !this.#isClosed) {
          note(`baton dev: the worker exited (${signal ?? `code ${code}`}); save a file to start it again`);
        }
        resolve();
      });
    });
  }

  /** Stops the running worker gracefully and starts a new one; calls during a restart coalesce into one more. */
  restart(): Promise<void> {
    if (this.#restarting !== undefined) {
      this.#isRestartQueued = true;
      return this.#restarting;
    }
    this.#restarting = (async () => {
      do {
        this.#isRestartQueued = false;
        await this.#stopChild();
        this.start();
      } while (this.#isRestartQueued && !this.#isClosed);
    })().finally(() => {
      this.#restarting = undefined;
    });
    return this.#restarting;
  }

  async stop(): Promise<void> {
    this.#isClosed = true;
    await this.#restarting;
    await this.#stopChild();
  }

  async #stopChild(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.#expectedExits.add(child);
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const isExited = await Promise.race([
      this.#exited.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), KILL_AFTER_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!isExited) {
      note(
        `baton dev: the worker did not stop within ${KILL_AFTER_MS / 1000} s; killing it (its runs are re-run after their lease)`,
      );
      child.kill('SIGKILL');
      await this.#exited;
    }
  }
}

/** This process's Node flags (tsx, conditions) for the worker, without debugger ports it cannot share. */
function nodeFlags(): string[] {
  return process.execArgv.filter((flag) => !/^--inspect(-brk|-port|-wait)?(=|$)/.test(flag) && !flag.startsWith('--debug-port'));
}

/** The `baton` script this process runs, to start `baton worker` with. */
function cliScript(): string {
  const script = process.argv[1];
  if (!script || !isFile(script)) throw new CliError('baton dev: cannot tell which script started the CLI', EXIT.failed);
  return script;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
