/**
 * `runInChildProcess`: runs an exported function in a forked Node process with
 * the current task context restored there, over the same protocol as worker
 * threads. The child opens no store: its context operations come back over the
 * IPC channel and are carried out here, through the live context.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callWithContext, type Transport, type TravelOptions } from './travel-call.js';
import type { FromRemote, StartMessage } from './travel-protocol.js';

export interface ChildProcessOptions extends TravelOptions {
  /** Node flags of the child (default: this process's, so `tsx` carries over). */
  execArgv?: string[];
  /** Environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Working directory of the child (default: this process's). */
  cwd?: string;
}

// `.ts` when Baton runs from its sources (its own tests), `.js` once built.
const OWN_EXTENSION = extname(fileURLToPath(import.meta.url));
const ENTRY = fileURLToPath(new URL(`./process-entry${OWN_EXTENSION}`, import.meta.url));

function nodeFlags(options: ChildProcessOptions): string[] {
  const flags = options.execArgv ?? process.execArgv;
  // From sources the entry itself is TypeScript.
  if (OWN_EXTENSION === '.ts' && !flags.some((flag) => flag.includes('tsx'))) return ['--import', 'tsx', ...flags];
  return flags;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function launchProcess(options: ChildProcessOptions) {
  return (start: StartMessage): Transport => {
    const child = fork(ENTRY, [], {
      execArgv: nodeFlags(options),
      env: options.env ?? process.env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      serialization: 'advanced',
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    });
    // 'close' comes after the last IPC message was read ('exit' may come before it).
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    // A write that fails because the child is gone is ignored: its 'close' settles the call.
    const send = (message: unknown) => {
      if (child.connected) child.send(message as never, () => undefined);
    };
    try {
      child.send(start as never);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    return {
      send,
      onMessage(listener) {
        child.on('message', (message: FromRemote) => listener(message));
      },
      onExit(listener) {
        child.once('error', listener);
        child.once('close', (code, signal) =>
          listener(
            new Error(
              `the child process running ${start.exportName} exited (${signal ? `signal ${signal}` : `code ${code}`}) before it returned`,
            ),
          ),
        );
      },
      async stop() {
        if (child.pid === undefined) return; // it never started ('error' said why)
        if (!hasExited(child)) child.kill('SIGKILL');
        await closed;
      },
    };
  };
}

/**
 * Runs `exportName` of `module` in a new child process (`child_process.fork`),
 * called as `fn(input, ctx)`, and resolves with what it returns (cloned with
 * Node's `advanced` serialization). Inside, `getTaskContext()` answers like in the
 * parent and `ctx.log`, `putStream`, `progress`, `checkpoint`, `cancel` act on this
 * run over the IPC channel; `ctx.signal` aborts when the run is cancelled or times
 * out. The child exits once the work settles; an error thrown there rejects here
 * with its name, message, code and stack. TypeScript modules need a loader in
 * `execArgv` (the default, this process's flags, keeps `tsx`).
 *
 * @param module a URL (`new URL('./work.js', import.meta.url)`) or an absolute path
 * @example
 * const report = await runInChildProcess(new URL('./render.js', import.meta.url), 'renderPdf', { orderId });
 */
export function runInChildProcess<Output = unknown>(
  module: string | URL,
  exportName: string,
  input?: unknown,
  options: ChildProcessOptions = {},
): Promise<Output> {
  return callWithContext<Output>('child process', module, exportName, input, options, launchProcess(options));
}
