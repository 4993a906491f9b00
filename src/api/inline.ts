/**
 * Inline runs (Prefect's run_task_sync/async): `task.runInline(input)` runs the
 * task in the calling process, yet as a real run — stored, with its context,
 * retries, timeouts, hooks and states — by a private worker of this instance
 * that only claims its own inline runs (their queue key names it).
 */
import { isTerminal } from '../engine/states.js';
import type { State } from '../engine/types.js';
import { ValidationError } from '../errors.js';
import type { TaskDefinition } from '../worker/task-definition.js';
import type { Worker } from '../worker/worker.js';
import type { EnqueueOptions } from './enqueue.js';
import { insertRuns, prepareRun } from './enqueue.js';
import { RunHandle } from './run-handle.js';
import type { BatonRuntime } from './runtime.js';

export interface InlineOptions extends EnqueueOptions {
  /** `'result'` (default): the output, or a throw. `'state'`: the final State, whatever it is. */
  returnType?: 'result' | 'state';
  /** Runs (handles) or inline results (values or promises) to wait for first; if one did not complete, this run is cancelled. */
  waitFor?: readonly unknown[];
}

const DONE_STATES = ['Completed', 'Cached', 'Skipped'];

export class InlineRunner {
  readonly #runtime: BatonRuntime;
  readonly #makeWorker: () => Worker;
  #worker: Promise<Worker> | undefined;

  constructor(runtime: BatonRuntime, makeWorker: () => Worker) {
    this.#runtime = runtime;
    this.#makeWorker = makeWorker;
  }

  async run(def: TaskDefinition, input: unknown, options: InlineOptions = {}): Promise<unknown> {
    const { returnType = 'result', waitFor = [], ...enqueueOptions } = options;
    if (returnType !== 'result' && returnType !== 'state') {
      throw new ValidationError(`runInline: returnType must be 'result' or 'state', got ${JSON.stringify(returnType)}`, [
        { path: 'returnType', message: 'unknown' },
      ]);
    }
    const upstreamProblem = await this.#awaitUpstream(waitFor);
    const worker = await this.#startedWorker();
    const queueKey = `~inline/${worker.id}>${def.queueKey}`;
    worker.serve({ ...def, queueKey });
    const run = await prepareRun(this.#runtime, def, input, enqueueOptions);
    // Only this process can execute it: a crash of the process ends it Crashed instead of leaving it queued.
    const [created] = await insertRuns(this.#runtime, [{ ...run, queueKey, maxCrashes: 0 }]);
    const handle = new RunHandle(this.#runtime, created?.id ?? run.id, created?.outcome ?? 'created');
    if (upstreamProblem) await handle.cancel(upstreamProblem);
    else worker.wake();
    if (returnType === 'result') return handle.result();
    await handle.result().catch(() => undefined);
    return handle.state();
  }

  /** Waits for every upstream; says why this run must not start when one did not complete. */
  async #awaitUpstream(waitFor: readonly unknown[]): Promise<string | undefined> {
    for (const item of waitFor) {
      if (item instanceof RunHandle) {
        await item.result().catch(() => undefined);
        const state = await item.state();
        if (!DONE_STATES.includes(state.name)) return `upstream run ${item.id} ended ${state.name}`;
        continue;
      }
      try {
        const value = await item;
        if (isState(value) && isTerminal(value.name) && !DONE_STATES.includes(value.name)) {
          return `an upstream inline run ended ${value.name}`;
        }
      } catch (error) {
        return `an upstream inline run failed: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    return undefined;
  }

  /** Serves these definitions on the inline worker too (transaction hooks). */
  async serve(defs: readonly TaskDefinition[]): Promise<void> {
    const worker = await this.#startedWorker();
    for (const def of defs) worker.serve(def);
    worker.wake();
  }

  #startedWorker(): Promise<Worker> {
    this.#worker ??= (async () => {
      const worker = this.#makeWorker();
      await worker.start();
      return worker;
    })();
    return this.#worker;
  }
}

function isState(value: unknown): value is State {
  return typeof value === 'object' && value !== null && 'type' in value && 'name' in value && 'timestamp' in value;
}
