/**
 * The entry of a worker thread started by `runInWorkerThread`: runs the work of
 * its start message (in `workerData`) with the parent's context restored and
 * posts the outcome back; the parent then terminates the thread. No store here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { StartMessage } from './travel-protocol.js';
import { type ParentChannel, runRemote } from './travel-remote.js';

const TYPESCRIPT_MODULE = /\.[cm]?tsx?(?:[?#].*)?$/;
const TSX_REGISTERED = Symbol.for('baton.tsxInThread');
const holder = globalThis as unknown as Record<symbol, unknown>;

/**
 * Node 20 ignores `--import` in a worker thread's execArgv, so a loader such as
 * tsx never reaches the thread: for a TypeScript module, register tsx here when
 * it is installed (otherwise Node's own "unknown file extension" error stands).
 */
async function enableTypeScript(module: string): Promise<void> {
  if (!TYPESCRIPT_MODULE.test(module) || holder[TSX_REGISTERED]) return;
  const specifier = 'tsx/esm/api';
  try {
    const api = (await import(specifier)) as { register(): unknown };
    api.register();
    holder[TSX_REGISTERED] = true;
  } catch {
    // tsx is not installed: the import of the module says what went wrong.
  }
}

const port = parentPort;
if (!port) throw new Error('thread-entry runs only as a worker thread started by runInWorkerThread');
const channel: ParentChannel = {
  send: (message) => port.postMessage(message),
  end: (message) => port.postMessage(message),
  onMessage: (listener) => port.on('message', listener),
};
const start = workerData as StartMessage;
await enableTypeScript(start.module);
await runRemote(channel, start);
