/** A defined task: enqueue it (one or many), or run it and wait for its output. */
import type { TaskRef } from '../context/task-context.js';
import type { State } from '../engine/types.js';
import type { NewRun } from '../store/types.js';
import type { TaskDefinition } from '../worker/task-definition.js';
import { applyTaskFlow, type EnqueueOptions, insertRuns, prepareRun } from './enqueue.js';
import type { InlineOptions } from './inline.js';
import { RunHandle } from './run-handle.js';
import type { BatonRuntime } from './runtime.js';

export class Task<Input = unknown, Output = unknown> implements TaskRef<Output> {
  readonly name: string;
  declare readonly __output?: Output;
  /** @internal */
  readonly definition: TaskDefinition;
  readonly #runtime: BatonRuntime;

  constructor(runtime: BatonRuntime, definition: TaskDefinition) {
    this.#runtime = runtime;
    this.definition = definition;
    this.name = definition.name;
  }

  /** Stores a run and returns its handle at once. Inside a task, the run is a child of the current one. */
  async enqueue(input: Input, options?: EnqueueOptions): Promise<RunHandle<Output>> {
    const run = await prepareRun(this.#runtime, this.definition, input, options);
    const [created] = await insertRuns(this.#runtime, [run]);
    return new RunHandle<Output>(this.#runtime, created?.id ?? run.id, created?.outcome ?? 'created');
  }

  /** Stores many runs in one round trip (one transaction): all or none. */
  async enqueueMany(items: readonly { input: Input; options?: EnqueueOptions }[]): Promise<RunHandle<Output>[]> {
    const runs = [];
    for (const item of items) runs.push(await prepareRun(this.#runtime, this.definition, item.input, item.options));
    const created = await insertRuns(this.#runtime, runs);
    return created.map((c) => new RunHandle<Output>(this.#runtime, c.id, c.outcome));
  }

  /**
   * Runs the task in this process and waits for it: a stored run with the same context,
   * retries, timeouts, hooks and states as a worker's (Prefect's run_task_sync). With
   * `returnType: 'state'` it resolves to the final State instead of the output or a throw;
   * `waitFor` lists runs or inline results to wait for first.
   */
  runInline(input: Input, options?: InlineOptions & { returnType?: 'result' }): Promise<Output>;
  runInline(input: Input, options: InlineOptions & { returnType: 'state' }): Promise<State<Output>>;
  runInline(input: Input, options: InlineOptions = {}): Promise<unknown> {
    const inline = this.#runtime.inline?.();
    if (!inline) throw new Error('runInline needs a Baton instance');
    return inline.run(this.definition, input, options);
  }

  /** @internal Adds this task's flow-control rules to a run built from its stored template. */
  applyFlow(run: NewRun, input: unknown): void {
    applyTaskFlow(this.definition, run, input);
  }

  /** Enqueues and waits for the output; rejects with RunFailedError when the run does not complete. */
  async run(input: Input, options?: EnqueueOptions): Promise<Output> {
    const handle = await this.enqueue(input, options);
    return handle.result();
  }
}
