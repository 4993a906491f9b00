/**
 * DAG workflows: `baton.workflow({ name, input, on })`, `wf.task({ name,
 * parents, skipIf }, fn)`, `wf.onFailure(fn)`, and running them. A workflow
 * run is one row holding the DAG it was started with plus one row per task;
 * tasks whose parents have all ended become runnable at once (fan-out and
 * fan-in, not level by level), decided in the store's transaction.
 */
import { createHash } from 'node:crypto';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { TaskContext, TaskRef } from '../context/task-context.js';
import { checkDag } from '../engine/dag.js';
import { checkOptions, is } from '../engine/options.js';
import type { Schema } from '../engine/schema.js';
import { ValidationError } from '../errors.js';
import type { MisfirePolicy, OverlapPolicy, StoredDag } from '../store/types.js';
import type { TaskDefinition } from '../worker/task-definition.js';
import { parseCron } from './cron.js';
import type { EnqueueOptions } from './enqueue.js';
import { insertWorkflowRuns, type PreparedWorkflowRun, prepareWorkflowRun } from './enqueue-workflow.js';
import { type ConcurrencyRule, checkConcurrency, mergeFlows, resolveFlow, toFlowSettings } from './flow-options.js';
import { RunHandle } from './run-handle.js';
import type { BatonRuntime } from './runtime.js';
import { checkTaskOptions, stableId, type TaskOptions, toTaskDefinition } from './task-options.js';

export interface WorkflowOptions<Input = unknown> {
  /** Unique per namespace (tasks and workflows share the name space). */
  name: string;
  description?: string;
  /** Any Standard Schema validator for the workflow's input. */
  input?: Schema<unknown, Input>;
  /**
   * Event keys and crons that start this workflow. A cron is an expression (five
   * fields, or six with seconds first; UTC) or an object with its options.
   */
  on?: { events?: string[]; crons?: (string | CronTrigger)[] };
  /** Default priority of its tasks, 1 (low) to 4 (high). */
  priority?: number;
  /** Limits how many runs of the workflow per key are in progress (from its first task's start to its end). */
  concurrency?: ConcurrencyRule<Input> | readonly ConcurrencyRule<Input>[];
  /**
   * Tasks of a run prefer (`soft`) or require (`hard`) the worker that ran its first task;
   * `hard` falls back to any worker once that worker is gone.
   */
  sticky?: 'soft' | 'hard';
}

/** A cron trigger with its options (DESIGN.md §2.13 "Schedules"). */
export interface CronTrigger {
  cron: string;
  /** IANA time zone; default UTC. */
  timezone?: string;
  /** While the previous fire's run is not terminal: `skip` (default) this fire, `queue` it anyway, or `cancel-previous`. */
  overlap?: OverlapPolicy;
  /** After downtime: `run-once` (default) fires once for the missed period, `skip` fires nothing for it. */
  misfire?: MisfirePolicy;
  /** The input of the runs it starts (default undefined). */
  input?: unknown;
}

/** `on.crons` entries with their defaults filled in. */
export type ResolvedCron = Required<Omit<CronTrigger, 'input'>> & { input?: unknown };

export function cronTriggersOf(options: WorkflowOptions<unknown>): ResolvedCron[] {
  return (options.on?.crons ?? []).map((entry) =>
    typeof entry === 'string'
      ? { cron: entry, timezone: 'UTC', overlap: 'skip', misfire: 'run-once' }
      : { timezone: 'UTC', overlap: 'skip', misfire: 'run-once', ...entry },
  ) as ResolvedCron[];
}

export interface WorkflowTaskOptions<Input, Output> extends TaskOptions<Input, Output> {
  /** Tasks of this workflow that must end (complete or be skipped) before this one starts. */
  // biome-ignore lint/suspicious/noExplicitAny: parents of any output type
  parents?: readonly (WorkflowTask<any> | string)[];
  /** Evaluated before the task runs; true records it `Skipped` (downstream tasks see `ctx.wasSkipped`). */
  skipIf?: (ctx: TaskContext<Input>) => boolean | Promise<boolean>;
}

/** A task inside a workflow: a parent for others, typed by its output. */
export class WorkflowTask<Output = unknown> implements TaskRef<Output> {
  readonly name: string;
  declare readonly __output?: Output;
  /** @internal */
  readonly definition: TaskDefinition;
  readonly workflowName: string;

  constructor(definition: TaskDefinition, workflowName: string) {
    this.definition = definition;
    this.name = definition.name;
    this.workflowName = workflowName;
  }
}

const ON_FAILURE = 'on-failure';

// Stored type-erased; the WorkflowTask returned to the caller carries the real types.
// biome-ignore lint/suspicious/noExplicitAny: options of a task of any input and output
type AnyTaskOptions = TaskOptions<any, any>;
// biome-ignore lint/suspicious/noExplicitAny: skipIf of a task of any input
type AnySkipIf = (ctx: TaskContext<any>) => boolean | Promise<boolean>;

export class Workflow<Input = unknown, Output extends Record<string, unknown> = Record<string, unknown>> {
  readonly name: string;
  readonly options: WorkflowOptions<Input>;
  readonly #runtime: BatonRuntime;
  readonly #tasks: WorkflowTask[] = [];
  #onFailure: WorkflowTask | undefined;
  #version: string | undefined;

  constructor(runtime: BatonRuntime, options: WorkflowOptions<Input>) {
    this.#runtime = runtime;
    this.options = options;
    this.name = options.name;
  }

  /** The tasks a worker must serve to run this workflow (the on-failure task included). */
  get tasks(): readonly WorkflowTask[] {
    return this.#onFailure ? [...this.#tasks, this.#onFailure] : [...this.#tasks];
  }

  /** Adds a task. Its parents must be tasks of this workflow defined before it, so a workflow has no cycles. */
  task<R, I = Input>(
    options: WorkflowTaskOptions<I, NoInfer<Awaited<R>>>,
    fn: (input: I, ctx: TaskContext<I>) => R,
  ): WorkflowTask<Awaited<R>> {
    const { parents = [], skipIf, ...taskOptions } = options;
    checkTaskOptions(taskOptions);
    if (taskOptions.debounce !== undefined) {
      throw new ValidationError(
        `task "${options.name}" of workflow "${this.name}": debounce applies to standalone tasks, not to tasks of a workflow`,
        [{ path: 'debounce', message: 'not allowed on a workflow task' }],
      );
    }
    if (skipIf !== undefined && typeof skipIf !== 'function') {
      throw new ValidationError(`task "${options.name}" of workflow "${this.name}": skipIf must be a function`);
    }
    const parentNames = parents.map((parent) => this.#parentName(options.name, parent));
    return this.#add(taskOptions as AnyTaskOptions, fn, parentNames, false, skipIf as AnySkipIf) as WorkflowTask<Awaited<R>>;
  }

  /** The task that runs after a task of a run failed and everything else ended; sees `ctx.taskRunErrors`. */
  onFailure<R>(fn: (input: Input, ctx: TaskContext<Input>) => R, options: Omit<TaskOptions<Input, Awaited<R>>, 'name'> = {}) {
    if (this.#onFailure) throw new ValidationError(`workflow "${this.name}" already has an on-failure task`);
    checkTaskOptions({ ...options, name: ON_FAILURE });
    const task = this.#add({ ...options, name: ON_FAILURE } as AnyTaskOptions, fn, [], true, undefined) as WorkflowTask<
      Awaited<R>
    >;
    this.#tasks.pop();
    this.#onFailure = task;
    return task;
  }

  /** Starts a run and returns its handle; `handle.id` is the workflow run id. */
  async enqueue(input: Input, options?: EnqueueOptions): Promise<RunHandle<Output>> {
    const prepared = await prepareWorkflowRun(this.#runtime, this, input, options);
    const [created] = await insertWorkflowRuns(this.#runtime, [prepared]);
    return new RunHandle<Output>(this.#runtime, created?.id ?? prepared[0].id, created?.outcome ?? 'created');
  }

  /** Starts many runs in one transaction. */
  async enqueueMany(items: readonly { input: Input; options?: EnqueueOptions }[]): Promise<RunHandle<Output>[]> {
    const prepared = [];
    for (const item of items) prepared.push(await prepareWorkflowRun(this.#runtime, this, item.input, item.options));
    const created = await insertWorkflowRuns(this.#runtime, prepared);
    return created.map((c) => new RunHandle<Output>(this.#runtime, c.id, c.outcome));
  }

  /** Runs the workflow and waits for the map of task outputs. */
  async run(input: Input, options?: EnqueueOptions): Promise<Output> {
    return (await this.enqueue(input, options)).result();
  }

  /** Changes whenever a task, its code or its parents change. */
  versionId(): string {
    if (!this.#version) {
      const hash = createHash('sha256').update(this.name);
      for (const task of this.tasks) {
        hash.update(`\u0000${task.name}\u0000${task.definition.version}\u0000${task.definition.workflow?.parents.join(',')}`);
      }
      this.#version = stableId(hash.digest('hex'));
    }
    return this.#version;
  }

  /** The DAG stored with each run. */
  dag(): StoredDag {
    const problems = checkDag(
      this.name,
      this.tasks.map((t) => ({ name: t.name, parents: t.definition.workflow?.parents ?? [] })),
    );
    if (problems.length > 0) throw new ValidationError(problems.join('; '));
    if (this.#tasks.length === 0) throw new ValidationError(`workflow "${this.name}" has no tasks`);
    return {
      version: this.versionId(),
      tasks: this.tasks.map((t) => {
        const d = t.definition;
        return {
          name: t.name,
          parents: [...(d.workflow?.parents ?? [])],
          ...(d.workflow?.isOnFailure ? { isOnFailure: true } : {}),
          queueKey: d.queueKey,
          priority: d.priority,
          maxCrashes: d.maxCrashes,
          cancelGraceMs: d.cancelGraceMs,
          ...(d.scheduleTimeoutMs === undefined ? {} : { scheduleTimeoutMs: d.scheduleTimeoutMs }),
        };
      }),
    };
  }

  /**
   * @internal Adds each row's flow-control rules, keys computed from the input: the
   * workflow's concurrency keys are held by its run's row and gate every task of the run.
   */
  applyFlow(rows: PreparedWorkflowRun, input: unknown): void {
    const [row, ...taskRows] = rows;
    const info = { taskName: this.name, tags: row.tags, metadata: row.metadata, priority: row.priority };
    const settings =
      this.options.concurrency === undefined ? undefined : toFlowSettings({ concurrency: this.options.concurrency });
    const workflowFlow = resolveFlow(settings, { name: this.name, holderId: row.id }, input, info).flow;
    if (workflowFlow) row.flow = workflowFlow;
    for (const taskRow of taskRows) {
      const def = this.tasks.find((t) => t.name === taskRow.taskName)?.definition;
      const own = resolveFlow(
        def?.flow,
        { name: taskRow.queueKey ?? taskRow.taskName, holderId: taskRow.id },
        input,
        {
          ...info,
          taskName: taskRow.taskName,
        },
        this.options.sticky,
      ).flow;
      const flow = mergeFlows(workflowFlow, own);
      if (flow) taskRow.flow = flow;
    }
  }

  /** @internal The input schema, for validation at enqueue. */
  get inputSchema(): Schema | undefined {
    return this.options.input;
  }

  #parentName(child: string, parent: WorkflowTask | string): string {
    const name = typeof parent === 'string' ? parent : parent.name;
    if (typeof parent !== 'string' && parent.workflowName !== this.name) {
      throw new ValidationError(
        `task "${child}" of workflow "${this.name}" lists parent "${name}" of another workflow ("${parent.workflowName}")`,
      );
    }
    if (!this.#tasks.some((t) => t.name === name)) {
      throw new ValidationError(
        `task "${child}" of workflow "${this.name}" has an unknown parent "${name}" (define parents before their children; that is also what keeps a workflow free of cycles)`,
      );
    }
    return name;
  }

  #add(
    options: AnyTaskOptions,
    fn: unknown,
    parents: string[],
    isOnFailure: boolean,
    skipIf: AnySkipIf | undefined,
  ): WorkflowTask {
    if (this.tasks.some((t) => t.name === options.name)) {
      throw new ValidationError(`workflow "${this.name}" already has a task named "${options.name}"`, [
        { path: 'name', message: 'duplicate' },
      ]);
    }
    const base = toTaskDefinition(
      this.#runtime.namespace,
      { priority: this.options.priority, ...options },
      fn as TaskDefinition['fn'],
    );
    const definition: TaskDefinition = {
      ...base,
      workflowId: stableId('workflow', this.#runtime.namespace, this.name),
      queueKey: `${this.name}>${options.name}`,
      workflow: {
        workflowName: this.name,
        parents,
        isOnFailure,
        skipIf,
        versionId: () => this.versionId(),
      },
    };
    const task = new WorkflowTask(definition, this.name);
    this.#tasks.push(task);
    this.#version = undefined;
    return task;
  }
}

export function checkWorkflowOptions(options: unknown): void {
  checkOptions('workflow options', options, {
    name: is.name,
    description: is.string,
    input: is.schema,
    concurrency: checkConcurrency,
    sticky: is.oneOf('soft', 'hard'),
    on: (v, k) => {
      if (typeof v !== 'object' || v === null) return `${k} must be an object with events and/or crons`;
      for (const [key, list] of Object.entries(v)) {
        if (key !== 'events' && key !== 'crons') return `${k}.${key} is not known (use events, crons)`;
        if (!Array.isArray(list)) return `${k}.${key} must be an array`;
        for (const [i, item] of list.entries()) {
          const problem = key === 'events' ? is.name(item, `${k}.events[${i}]`) : checkCronEntry(item, `${k}.crons[${i}]`);
          if (problem) return problem;
        }
      }
      return undefined;
    },
    priority: is.integer(1, 4),
  });
  for (const [i, entry] of cronTriggersOf(options as WorkflowOptions).entries()) {
    parseCron(entry.cron, entry.timezone, `workflow options: on.crons[${i}]`);
  }
  if ((options as { name?: unknown }).name === undefined) {
    throw new ValidationError('workflow options: name is required', [{ path: 'name', message: 'required' }]);
  }
}

function checkCronEntry(item: unknown, k: string): string | undefined {
  if (typeof item === 'string') return item.trim().length > 0 ? undefined : `${k} must be a non-empty cron expression`;
  if (typeof item !== 'object' || item === null)
    return `${k} must be a cron expression or { cron, timezone?, overlap?, misfire?, input? }`;
  for (const key of Object.keys(item)) {
    if (!['cron', 'timezone', 'overlap', 'misfire', 'input'].includes(key)) return `${k}.${key} is not known`;
  }
  const entry = item as Record<string, unknown>;
  if (typeof entry.cron !== 'string' || entry.cron.trim().length === 0) return `${k}.cron must be a non-empty cron expression`;
  if (entry.timezone !== undefined && typeof entry.timezone !== 'string') return `${k}.timezone must be a string`;
  if (entry.overlap !== undefined && !['skip', 'queue', 'cancel-previous'].includes(entry.overlap as string)) {
    return `${k}.overlap must be skip, queue or cancel-previous`;
  }
  if (entry.misfire !== undefined && !['run-once', 'skip'].includes(entry.misfire as string)) {
    return `${k}.misfire must be run-once or skip`;
  }
  return undefined;
}

export type WorkflowInput<W> = W extends Workflow<infer I, Record<string, unknown>> ? I : never;
export type { StandardSchemaV1 };
