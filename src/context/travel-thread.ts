/**
 * `runInWorkerThread`: runs an exported function in a `worker_threads` thread
 * with the current task context restored there. The thread opens no store: its
 * context operations are carried out here, through the live context, so this
 * works on every database, `:memory:` included.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ResourceLimits, Worker } from 'node:worker_threads';
import { callWithContext, type Transport, type TravelOptions } from './travel-call.js';
import type { FromRemote, StartMessage } from './travel-protocol.js';

export interface WorkerThreadOptions extends TravelOptions {
  /** Node flags of the thread (default: this process's). Node 20 ignores `--import` in threads. */
  execArgv?: string[];
  /** Memory caps of the thread. */
  resourceLimits?: ResourceLimits;
}

// `.ts` when Baton runs from its sources (its own tests), `.js` once built.
const OWN_EXTENSION = extname(fileURLToPath(import.meta.url));
const ENTRY = new URL(`./thread-entry${OWN_EXTENSION}`, import.meta.url);

/** From sources the entry is TypeScript, so the thread registers tsx before loading it. */
function entryOf(): { filename: string | URL; eval: boolean } {
  if (OWN_EXTENSION !== '.ts') return { filename: ENTRY, eval: false };
  const code =
    "import('tsx/esm/api').then((api) => { api.register(); globalThis[Symbol.for('baton.tsxInThread')] = true; " +
    `return import(${JSON.stringify(ENTRY.href)}); });`;
  return { filename: code, eval: true };
}

function launchThread(options: WorkerThreadOptions) {
  return (start: StartMessage): Transport => {
    const entry = entryOf();
    const worker = new Worker(entry.filename, {
      eval: entry.eval,
      workerData: start,
      ...(options.execArgv ? { execArgv: options.execArgv } : {}),
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
    let exited = false;
    worker.once('exit', () => {
      exited = true;
    });
    return {
      send(message) {
        if (!exited) worker.postMessage(message);
      },
      onMessage(listener) {
        worker.on('message', (message: FromRemote) => listener(message));
      },
      onExit(listener) {
        worker.once('error', listener);
        worker.once('messageerror', listener);
        worker.once('exit', (code) =>
          listener(new Error(`the worker thread running ${start.exportName} exited (code ${code}) before it returned`)),
        );
      },
      async stop() {
        if (!exited) await worker.terminate();
      },
    };
  };
}

/**
 * Runs `exportName` of `module` in a new worker thread, called as `fn(input, ctx)`,
 * and resolves with what it returns (structured-cloned). Inside, `getTaskContext()`
 * answers with the same ids, tags, metadata, custom context, attempt and trigger as
 * here, and `ctx.log`, `putStream`, `progress`, `checkpoint`, `cancel` act on this
 * run; `ctx.signal` aborts when the run is cancelled or times out. Called outside a
 * task, the work runs with no context. The thread is terminated once the work settles;
 * an error thrown there rejects here with its name, message, code and stack.
 *
 * @param module a URL (`new URL('./work.js', import.meta.url)`) or an absolute path
 * @param input structured-cloned to the thread
 * @example
 * const digest = await runInWorkerThread<string>(new URL('./hash.js', import.meta.url), 'hashFile', { path });
 */
export function runInWorkerThread<Output = unknown>(
  module: string | URL,
  exportName: string,
  input?: unknown,
  options: WorkerThreadOptions = {},
): Promise<Output> {
  return callWithContext<Output>('worker thread', module, exportName, input, options, launchThread(options));
}
