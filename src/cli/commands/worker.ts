/**
 * `baton worker <entry>`: imports the entry module and serves every task and workflow it
 * exports, each on the Baton instance that defined it, until SIGTERM or Ctrl-C; then it
 * stops gracefully (claims nothing new, lets running attempts finish up to the shutdown
 * timeout, releases the rest) and exits 0. The global options reach the entry's
 * `new Baton()` through the `BATON_*` variables. Also the shared stop-signal handling of
 * the long-running commands (`dev`, `serve`).
 */
import type { Command } from 'commander';
import type { Baton } from '../../api/baton.js';
import type { WorkerOptions } from '../../api/worker-options.js';
import type { Worker } from '../../worker/worker.js';
import { collect, durationArgument, integerArgument, pairsArgument } from '../arguments.js';
import { addGlobalOptions, EXIT, type GlobalOptions, globalOptions } from '../context.js';
import { loadEntry } from '../load-entry.js';
import { note, print, printJson } from '../output.js';

/** Set by `baton dev` on the worker it starts: the worker also stops when `dev` goes away. */
export const DEV_WORKER_VARIABLE = 'BATON_DEV_WORKER';

/** The options as commander gives them (strings), checked in `runWorker`. */
export interface WorkerCommandOptions {
  slots?: string;
  name?: string;
  label?: string[];
  lease?: string;
  shutdownTimeout?: string;
}

export function registerWorkerCommand(program: Command): void {
  const command = program
    .command('worker')
    .description('serve every task and workflow the entry module exports, until SIGTERM or Ctrl-C (then finish running runs)')
    .argument('<entry>', 'a module exporting tasks and workflows defined on a Baton (.ts through tsx; .js, .mjs)')
    .option('--slots <n>', 'runs executing at once (default: BATON_WORKER_SLOTS, the profile, 10)')
    .option('--name <name>', 'the worker name shown in the dashboard (default: worker-<pid>)')
    .option('--label <key=value>', 'a worker label, matched by desiredLabels (repeatable)', collect)
    .option('--lease <duration>', 'lease on each claimed run, e.g. 30s (default: BATON_WORKER_LEASE, the profile, 30s)')
    .option('--shutdown-timeout <duration>', 'how long a stop waits for running runs before releasing them (default 30s)');
  addGlobalOptions(command).action(async (entry: string, options: WorkerCommandOptions, self: Command) => {
    await runWorker(entry, options, globalOptions(self));
  });
}

/** Serves the entry's tasks until a stop signal, then stops gracefully. */
export async function runWorker(entry: string, options: WorkerCommandOptions, globals: GlobalOptions): Promise<void> {
  const shared = workerSettings(options); // bad flags fail before the entry is imported
  exportGlobalOptions(globals);
  const stop = stopSignal('baton worker');
  const workers: Worker[] = [];
  let batons: Baton[] = [];
  try {
    const loaded = await loadEntry(entry);
    batons = loaded.groups.map((g) => g.baton);
    for (const { baton, targets } of loaded.groups) {
      const worker = baton.worker({ ...shared, tasks: targets });
      workers.push(worker);
      await worker.start();
    }
    const names = loaded.groups.flatMap((g) => g.targets.map((t) => t.name));
    if (globals.json) {
      printJson({ worker: workers[0]?.name, entry: loaded.path, tasks: names, pid: process.pid }, { pretty: false });
    } else {
      const where = [
        ...new Set(batons.map((b) => `${b.storeKind === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, namespace ${b.namespace}`)),
      ];
      note(`baton worker: serving ${names.join(', ')} from ${entry} (${where.join('; ')}); SIGTERM or Ctrl-C stops it`);
    }
    const reason = await stop.reason;
    const running = workers.reduce((sum, w) => sum + w.activeRunIds.length, 0);
    note(
      `baton worker: ${reason}: stopping${running > 0 ? `, finishing ${running} running run${running === 1 ? '' : 's'}` : ''}`,
    );
    await Promise.all(workers.map((w) => w.stop()));
    note('baton worker: stopped');
  } finally {
    stop.dispose();
    await Promise.all(batons.map((b) => b.close().catch(() => undefined)));
    exitSoon();
  }
}

/** The worker options the flags give (the entry's tasks are added per Baton). */
function workerSettings(options: WorkerCommandOptions): Omit<WorkerOptions, 'tasks'> {
  const labels = pairsArgument(options.label, '--label');
  return {
    ...(labels === undefined ? {} : { labels }),
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.slots === undefined ? {} : { slots: integerArgument(options.slots, '--slots', 1, 10_000) }),
    ...(options.lease === undefined ? {} : { lease: durationArgument(options.lease, '--lease') }),
    ...(options.shutdownTimeout === undefined
      ? {}
      : { shutdownTimeout: durationArgument(options.shutdownTimeout, '--shutdown-timeout') }),
  };
}

/**
 * Passes the global options on as `BATON_*` variables, where the entry's `new Baton()` (and a
 * child process) reads them; options the entry passes to `new Baton()` itself still win.
 */
export function exportGlobalOptions(globals: GlobalOptions): void {
  if (globals.database !== undefined) process.env.BATON_DATABASE_URL = globals.database;
  if (globals.schema !== undefined) process.env.BATON_SCHEMA = globals.schema;
  if (globals.namespace !== undefined) process.env.BATON_NAMESPACE = globals.namespace;
  if (globals.profile !== undefined) process.env.BATON_PROFILE = globals.profile;
  if (globals.verbose) process.env.BATON_LOG_LEVEL = 'debug';
}

export interface StopSignal {
  /** Resolves with what asked to stop (`SIGTERM`, `SIGINT`…). */
  readonly reason: Promise<string>;
  /** Removes the handlers. */
  dispose(): void;
}

/**
 * The first SIGTERM or SIGINT asks for a graceful stop; Ctrl-C again (a second SIGINT more than
 * a second later: one Ctrl-C may arrive twice, from the terminal and from bin/baton.js passing
 * it on) exits at once with 130. A SIGTERM while stopping changes nothing (a supervisor
 * repeating itself, or `dev` passing on the Ctrl-C its worker already got). A worker started by
 * `baton dev` also stops when `dev` is gone.
 */
export function stopSignal(what: string): StopSignal {
  let resolve!: (reason: string) => void;
  const reason = new Promise<string>((r) => {
    resolve = r;
  });
  let firstAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstAt === undefined) {
      firstAt = performance.now();
      resolve(signal);
    } else if (signal === 'SIGINT' && performance.now() - firstAt > 1_000) {
      note(`${what}: interrupted again, exiting now`);
      process.exit(130);
    }
  };
  const onDisconnect = () => resolve('baton dev exited');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const isDevWorker = process.env[DEV_WORKER_VARIABLE] === '1' && process.channel !== undefined;
  if (isDevWorker) process.once('disconnect', onDisconnect);
  return {
    reason,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (isDevWorker) process.off('disconnect', onDisconnect);
    },
  };
}

/**
 * Exits with the exit code set by then (the CLI sets it once the command returned or threw),
 * should something the entry opened (a pool, a timer) keep the process alive; the timer itself
 * holds nothing open.
 */
export function exitSoon(): void {
  setTimeout(() => process.exit(process.exitCode ?? EXIT.ok), 2_000).unref();
}

/** Prints the address a long-running command serves, as JSON with `--json`. */
export function printServing(globals: GlobalOptions, fields: { url: string }, text: string): void {
  if (globals.json) printJson(fields, { pretty: false });
  else print(text);
}
