/**
 * The Baton instance: opens the store lazily, defines tasks, makes workers,
 * looks up runs, and closes everything it started. One instance per database
 * and namespace; several may share a process and a database.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { DurableContext } from '../context/durable-context.js';
import { registerContextHost } from '../context/serialized-context.js';
import type { TaskContext } from '../context/task-context.js';
import { validateWith } from '../engine/schema.js';
import { serializeWithLimit } from '../engine/serializer.js';
import type { JsonValue } from '../engine/types.js';
import { ValidationError } from '../errors.js';
import { createHttpApp, type HttpOptions } from '../http/app.js';
import type { HttpHost, NamespaceApi } from '../http/scope.js';
import { serveHttp } from '../http/serve.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import { createLogger, setProcessLogger } from '../logger.js';
import { type Notifier, notifierFor } from '../store/notifier.js';
import { openStore, parseDatabase, type StoreLocation } from '../store/open-store.js';
import type { NewRun, NewSchedule, RegisteredTask, RunTemplate, Store } from '../store/types.js';
import { Sweeper } from '../worker/sweeper.js';
import type { TaskDefinition } from '../worker/task-definition.js';
import { Worker } from '../worker/worker.js';
import { type BatonOptions, type ResolvedBatonOptions, resolveBatonOptions } from './baton-options.js';
import { nextFire, parseCron } from './cron.js';
import type { PreparedWorkflowRun } from './enqueue-workflow.js';
import { Events } from './events.js';
import { contextHostFor } from './hydration.js';
import { InlineRunner } from './inline.js';
import { RunWaiter } from './run-waiter.js';
import { Runs } from './runs.js';
import type { BatonRuntime } from './runtime.js';
import { type ScheduleInfo, Scheduler, Schedules, toScheduleInfo } from './schedules.js';
import { Task } from './task.js';
import { checkTaskOptions, jsonSchemaOf, stableId, type TaskOptions, toTaskDefinition } from './task-options.js';
import { taskTemplate } from './templates.js';
import { Tokens } from './tokens.js';
import { hookDefinitionOf, type Transaction, TransactionRunner } from './transaction.js';
import { resolveWorkerOptions, type WorkerOptions } from './worker-options.js';
import { checkWorkflowOptions, cronTriggersOf, Workflow, type WorkflowOptions } from './workflow.js';

export interface ScheduleOptions {
  /** When to start the run. */
  at: Date | number;
  /** Metadata of the run (`ctx.additionalMetadata`). */
  metadata?: Record<string, JsonValue>;
}

/** The output type of a task function: awaited, or the yields/return of an async generator. */
export type TaskOutput<R> =
  R extends AsyncGenerator<infer Y, infer Ret, unknown> ? (undefined extends Ret ? Y[] : Ret) : Awaited<R>;

/** Which Baton instance defined a task or workflow (`baton worker <entry>` serves exports on their own instance). */
const owners = new WeakMap<object, Baton>();

/** @internal The Baton instance that defined `target`, if it is a task or workflow of this package. */
export function ownerOf(target: unknown): Baton | undefined {
  return typeof target === 'object' && target !== null ? owners.get(target) : undefined;
}

export class Baton {
  /** Look up and list runs. */
  readonly runs: Runs;
  /** Push events (starting the workflows that listen on their key), get and list them. */
  readonly events: Events;
  /** List and delete persisted schedules (crons from `on.crons`, one-off `baton.schedule()`). */
  readonly schedules: Schedules;
  /** API tokens for the HTTP API and dashboard. */
  readonly tokens: Tokens;
  readonly namespace: string;
  readonly #options: ResolvedBatonOptions;
  readonly #location: StoreLocation;
  readonly #logger: Logger;
  readonly #runtime: BatonRuntime;
  readonly #tasks = new Map<string, Task>();
  readonly #workflows = new Map<string, Workflow>();
  readonly #workers = new Set<Worker>();
  #inline: InlineRunner | undefined;
  readonly #servers = new Set<{ close(): Promise<void> }>();
  #transactions: TransactionRunner | undefined;
  #store: Promise<Store> | undefined;
  #sweeper: Sweeper | undefined;
  #scheduler: Scheduler | undefined;
  #stopClockListener: (() => void) | undefined;
  #isClosed = false;
  #waiter: RunWaiter | undefined;
  readonly #unregisterContextHost: () => void;

  constructor(options: BatonOptions = {}) {
    this.#options = resolveBatonOptions(options);
    this.#location = parseDatabase(this.#options.database);
    this.namespace = this.#options.namespace;
    this.#logger = this.#options.logger ?? createLogger(this.#options.logLevel);
    setProcessLogger(this.#logger);
    for (const warning of this.#options.settings.warnings) this.#logger.warn({}, warning);
    this.#runtime = {
      namespace: this.#options.namespace,
      clock: this.#options.clock,
      logger: this.#logger,
      limits: this.#options.limits,
      idempotencyWindowMs: this.#options.idempotencyWindowMs,
      rawDataRoot: this.#options.rawDataRoot,
      store: () => this.#openStore(),
      notifier: () => this.#notifier(),
      waiter: () => {
        this.#waiter ??= new RunWaiter(this.#runtime);
        return this.#waiter;
      },
      inline: () => this.#inlineRunner(),
      applyLocalFlow: (name, rows, input) => {
        const workflow = this.#workflows.get(name);
        if (workflow) workflow.applyFlow(rows as PreparedWorkflowRun, input);
        else this.#tasks.get(name)?.applyFlow(rows[0] as NewRun, input);
      },
    };
    this.runs = new Runs(this.#runtime);
    this.events = new Events(this.#runtime);
    this.tokens = new Tokens(this.#runtime);
    this.schedules = new Schedules(this.#runtime, () => void this.#scheduler?.tick().catch(() => undefined));
    this.#unregisterContextHost = registerContextHost(contextHostFor(this.#runtime));
  }

  /**
   * The HTTP API and dashboard as an app with `fetch(Request)`, to mount in any server
   * (docs/http-api.md). Every API route needs a token (`baton.tokens.create()`) unless
   * `auth: 'none'`.
   */
  http(options: HttpOptions = {}): { fetch(request: Request): Promise<Response> } {
    this.#assertOpen();
    const app = createHttpApp(this.#httpHost(), options);
    return { fetch: async (request) => app.fetch(request) };
  }

  /**
   * Serves the HTTP API and dashboard (default `http://127.0.0.1:8400`, or the `http` settings).
   * `auth: 'none'` is refused unless the host is a loopback address.
   */
  async serve(options: HttpOptions & { port?: number; host?: string } = {}): Promise<{ url: string; close(): Promise<void> }> {
    this.#assertOpen();
    const {
      port = this.#options.settings.settings.http.port,
      host = this.#options.settings.settings.http.host,
      ...http
    } = options;
    const server = await serveHttp(createHttpApp(this.#httpHost(), http), { port, host, auth: http.auth ?? 'token' });
    this.#servers.add(server);
    return {
      url: server.url,
      close: async () => {
        this.#servers.delete(server);
        await server.close();
      },
    };
  }

  /**
   * @internal The parts of this instance for one namespace (default: its own), as the HTTP
   * layer sees them; the CLI starts runs by name and reads run details through them.
   */
  namespaceApi(namespace: string = this.namespace): NamespaceApi {
    this.#assertOpen();
    return this.#httpHost().forNamespace(namespace);
  }

  /** @internal The parts of this instance the HTTP layer uses, per namespace. */
  #httpHost(): HttpHost {
    const scoped = new Map<string, NamespaceApi>();
    return {
      namespace: this.namespace,
      tokens: this.tokens,
      configuredToken: this.#options.settings.settings.http.token,
      logError: (error, message) => this.#logger.error({ err: error }, message),
      forNamespace: (namespace) => {
        let api = scoped.get(namespace);
        if (!api) {
          let waiter: RunWaiter | undefined;
          const runtime: BatonRuntime =
            namespace === this.namespace
              ? this.#runtime
              : { ...this.#runtime, namespace, waiter: () => (waiter ??= new RunWaiter(runtime)) };
          api = {
            namespace,
            runtime,
            runs: namespace === this.namespace ? this.runs : new Runs(runtime),
            events: namespace === this.namespace ? this.events : new Events(runtime),
            schedules: namespace === this.namespace ? this.schedules : new Schedules(runtime, () => undefined),
            localTarget: (name) =>
              namespace === this.namespace ? (this.#tasks.get(name) ?? this.#workflows.get(name)) : undefined,
          };
          scoped.set(namespace, api);
        }
        return api;
      },
    };
  }

  /** Which backend this instance uses. */
  get storeKind(): 'sqlite' | 'postgres' {
    return this.#location.kind;
  }

  /** Defines a task. `fn(input, ctx)` runs on a worker; its return value is the run's output. */
  task<S extends StandardSchemaV1, R, L = unknown>(
    options: TaskOptions<StandardSchemaV1.InferOutput<S>, NoInfer<TaskOutput<R>>> & { input: S },
    fn: (input: StandardSchemaV1.InferOutput<S>, ctx: TaskContext<StandardSchemaV1.InferOutput<S>, L>) => R,
  ): Task<StandardSchemaV1.InferInput<S>, TaskOutput<R>>;
  task<I = void, R = unknown, L = unknown>(
    options: TaskOptions<I, NoInfer<TaskOutput<R>>> & { input?: undefined },
    fn: (input: I, ctx: TaskContext<I, L>) => R,
  ): Task<I, TaskOutput<R>>;
  // biome-ignore lint/suspicious/noExplicitAny: the implementation of the typed overloads above
  task(options: TaskOptions<any, any>, fn: (input: any, ctx: any) => unknown): Task {
    return this.#defineTask(options, fn, false);
  }

  /**
   * Defines a durable task: `fn` gets a DurableContext whose `step()` results (and
   * `now()` / `randomUUID()` values) are recorded, so a re-execution after a crash,
   * a retry or `handle.retry()` returns the records instead of running them again.
   */
  durableTask<S extends StandardSchemaV1, R, L = unknown>(
    options: TaskOptions<StandardSchemaV1.InferOutput<S>, NoInfer<TaskOutput<R>>> & { input: S },
    fn: (input: StandardSchemaV1.InferOutput<S>, ctx: DurableContext<StandardSchemaV1.InferOutput<S>, L>) => R,
  ): Task<StandardSchemaV1.InferInput<S>, TaskOutput<R>>;
  durableTask<I = void, R = unknown, L = unknown>(
    options: TaskOptions<I, NoInfer<TaskOutput<R>>> & { input?: undefined },
    fn: (input: I, ctx: DurableContext<I, L>) => R,
  ): Task<I, TaskOutput<R>>;
  // biome-ignore lint/suspicious/noExplicitAny: the implementation of the typed overloads above
  durableTask(options: TaskOptions<any, any>, fn: (input: any, ctx: any) => unknown): Task {
    return this.#defineTask(options, fn, true);
  }

  /** Defines a DAG workflow; add tasks with `wf.task()`. */
  workflow<Input = unknown, Output extends Record<string, unknown> = Record<string, unknown>>(
    options: WorkflowOptions<Input>,
  ): Workflow<Input, Output> {
    checkWorkflowOptions(options);
    if (this.#tasks.has(options.name) || this.#workflows.has(options.name)) {
      throw new ValidationError(`a task or workflow named "${options.name}" is already defined on this Baton instance`, [
        { path: 'name', message: 'duplicate' },
      ]);
    }
    const workflow = new Workflow<Input, Output>(this.#runtime, options);
    this.#workflows.set(workflow.name, workflow as unknown as Workflow);
    owners.set(workflow, this);
    return workflow;
  }

  /** A worker for the given tasks; call `start()` to begin claiming runs. */
  worker<L = unknown>(options: WorkerOptions<L>): Worker {
    this.#assertOpen();
    const settings = resolveWorkerOptions(options as WorkerOptions, this.#options.workerDefaults);
    const definitions = options.tasks.flatMap((t) => (t instanceof Workflow ? t.tasks.map((w) => w.definition) : [t.definition]));
    // A worker of a task with onRollback/onCommit also runs those hooks for transactions.
    const hooks = definitions.map(hookDefinitionOf).filter((d): d is TaskDefinition => d !== undefined);
    return new Worker(this.#workerRuntime(), settings, [...definitions, ...hooks]);
  }

  /**
   * Groups the task runs enqueued inside `fn` (DESIGN.md §2.7): when `fn` throws or a member
   * does not complete, completed members' `onRollback` hooks run, newest completion first, and
   * the error is rethrown; when all complete, their `onCommit` hooks run. Hooks run as a stored
   * workflow run, so a crash mid-rollback resumes it. Transactions nest.
   */
  transaction<T>(fn: (txn: Transaction) => Promise<T> | T): Promise<T> {
    this.#assertOpen();
    this.#transactions ??= new TransactionRunner(
      this.#runtime,
      (name) => this.#tasks.get(name)?.definition,
      (defs) => this.#inlineRunner().serve(defs.map(hookDefinitionOf).filter((d): d is TaskDefinition => d !== undefined)),
    );
    return this.#transactions.run(fn);
  }

  #workerRuntime(): ConstructorParameters<typeof Worker>[0] {
    return {
      store: () => this.#openStore(),
      notifier: () => this.#notifier(),
      clock: this.#options.clock,
      namespace: this.namespace,
      logger: this.#logger,
      limits: this.#options.limits,
      rawDataRoot: this.#options.rawDataRoot,
      register: (defs) => this.#register(defs),
      workerStarted: (worker) => this.#workerStarted(worker),
      workerStopped: (worker) => this.#workers.delete(worker),
    };
  }

  #inlineRunner(): InlineRunner {
    this.#assertOpen();
    this.#inline ??= new InlineRunner(this.#runtime, () => {
      const settings = {
        name: `inline-${process.pid}`,
        slots: 32,
        labels: {},
        leaseMs: 30_000,
        pollIntervalMs: undefined,
        shutdownTimeoutMs: 10_000,
        lifespan: undefined,
      };
      return new Worker(this.#workerRuntime(), settings, []);
    });
    return this.#inline;
  }

  /** Writes tasks into the store's registry (names, versions, input JSON Schemas). */
  // biome-ignore lint/suspicious/noExplicitAny: registers tasks of any input and output
  async register(...tasks: (Task<any, any> | Workflow<any, any>)[]): Promise<void> {
    await this.#register(tasks.flatMap((t) => (t instanceof Workflow ? t.tasks.map((w) => w.definition) : [t.definition])));
  }

  /**
   * Persists a one-off schedule: a run of `target` with `input` starts at `options.at` (on the
   * instance's clock), started by the scheduler of any process that runs a worker. Its runs get
   * `ctx.trigger = { kind: 'schedule', scheduleId }`.
   */
  // biome-ignore lint/suspicious/noExplicitAny: schedules tasks and workflows of any types
  async schedule<I>(target: Task<I, any> | Workflow<I, any>, input: I, options: ScheduleOptions): Promise<ScheduleInfo> {
    this.#assertOpen();
    const at = options?.at instanceof Date ? options.at.getTime() : options?.at;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      throw new ValidationError('schedule options: at must be a Date or epoch milliseconds', [
        { path: 'at', message: 'required' },
      ]);
    }
    const isWorkflow = target instanceof Workflow;
    const what = `input of ${isWorkflow ? 'workflow' : 'task'} "${target.name}"`;
    await validateWith(isWorkflow ? target.inputSchema : target.definition.inputSchema, input, what);
    const encoded = serializeWithLimit(input, what, this.#options.limits.input) ?? null;
    const template: RunTemplate = isWorkflow
      ? { kind: 'workflow', name: target.name, dag: target.dag() }
      : taskTemplate(target.definition);
    const store = await this.#openStore();
    const row = await store.createSchedule({
      id: newId(this.#options.clock.now()),
      namespace: this.namespace,
      kind: 'once',
      targetName: target.name,
      target: template,
      input: encoded,
      metadata: { ...(options.metadata ?? {}) },
      cron: null,
      timezone: null,
      overlap: 'queue',
      misfire: 'run-once',
      fromCode: false,
      nextFireAt: at,
    });
    // Arms this process's clock timer for it (other processes see it at their next poll).
    await this.#scheduler?.tick().catch(() => undefined);
    return toScheduleInfo(row);
  }

  /** The store, opened (and migrated) if it was not yet. */
  store(): Promise<Store> {
    return this.#openStore();
  }

  /** Sweeps expired leases and schedule timeouts now. */
  async sweep(): Promise<void> {
    await (await this.#sweeperFor()).sweep();
  }

  /** Stops this instance's workers (gracefully) and sweeper and closes its connections. */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#unregisterContextHost();
    this.#waiter?.close();
    await Promise.all([...this.#servers].map((s) => s.close()));
    await Promise.all([...this.#workers].map((w) => w.stop()));
    this.#stopClockListener?.();
    await this.#scheduler?.stop();
    await this.#sweeper?.stop();
    if (this.#store) {
      const store = await this.#store.catch(() => undefined);
      await store?.close();
    }
  }

  // biome-ignore lint/suspicious/noExplicitAny: shared by the typed task() and durableTask() overloads
  #defineTask(options: TaskOptions<any, any>, fn: (input: any, ctx: any) => unknown, isDurable: boolean): Task {
    checkTaskOptions(options);
    if (typeof fn !== 'function') throw new ValidationError(`task "${options.name}": the task function is missing`);
    if (this.#tasks.has(options.name) || this.#workflows.has(options.name)) {
      throw new ValidationError(`a task or workflow named "${options.name}" is already defined on this Baton instance`, [
        { path: 'name', message: 'duplicate' },
      ]);
    }
    const definition = { ...toTaskDefinition(this.namespace, options, fn as TaskDefinition['fn']), isDurable };
    const task = new Task(this.#runtime, definition);
    this.#tasks.set(task.name, task);
    owners.set(task, this);
    return task;
  }

  #assertOpen(): void {
    if (this.#isClosed) throw new Error('this Baton instance is closed');
  }

  #openStore(): Promise<Store> {
    if (this.#isClosed && !this.#store) return Promise.reject(new Error('this Baton instance is closed'));
    this.#store ??= openStore(this.#location, {
      clock: this.#options.clock,
      isClockInjected: this.#options.isClockInjected,
      schema: this.#options.schema,
      ...(this.#options.poolSize === undefined ? {} : { poolSize: this.#options.poolSize }),
    });
    // A failed open is not cached: the next call tries again.
    this.#store.catch(() => {
      this.#store = undefined;
    });
    return this.#store;
  }

  async #notifier(): Promise<Notifier> {
    return notifierFor((await this.#openStore()).identity);
  }

  async #register(definitions: readonly TaskDefinition[]): Promise<void> {
    const store = await this.#openStore();
    const entries = new Map<string, Omit<RegisteredTask, 'updatedAt'>>();
    const workflows = new Map<string, Workflow>();
    for (const d of definitions) {
      // Transaction-hook and inline queues are private to the worker; the registry lists the task itself.
      if (d.queueKey.startsWith('~')) continue;
      if (d.workflow) {
        const workflow = this.#workflows.get(d.workflow.workflowName);
        if (workflow) workflows.set(workflow.name, workflow);
        entries.set(d.workflow.workflowName, {
          name: d.workflow.workflowName,
          kind: 'workflow',
          version: d.workflow.versionId(),
          inputSchema: jsonSchemaOf(workflow?.inputSchema),
          triggers: { events: [...(workflow?.options.on?.events ?? [])] },
          template: workflow ? { kind: 'workflow', name: workflow.name, dag: workflow.dag() } : null,
        });
      } else {
        entries.set(d.name, {
          name: d.name,
          kind: 'task',
          version: d.version,
          inputSchema: jsonSchemaOf(d.inputSchema),
          triggers: null,
          template: taskTemplate(d),
        });
      }
    }
    await store.registerTasks(this.namespace, [...entries.values()]);
    const now = await store.now();
    for (const workflow of workflows.values()) {
      const schedules: NewSchedule[] = cronTriggersOf(workflow.options).map((entry) => {
        const cron = parseCron(entry.cron, entry.timezone, `workflow "${workflow.name}" on.crons`);
        return {
          id: stableId('cron', this.namespace, workflow.name, entry.cron, entry.timezone),
          namespace: this.namespace,
          kind: 'cron',
          targetName: workflow.name,
          target: { kind: 'workflow', name: workflow.name, dag: workflow.dag() },
          input:
            serializeWithLimit(entry.input, `input of a cron of workflow "${workflow.name}"`, this.#options.limits.input) ?? null,
          metadata: {},
          cron: entry.cron,
          timezone: entry.timezone,
          overlap: entry.overlap,
          misfire: entry.misfire,
          fromCode: true,
          nextFireAt: nextFire(cron, now),
        };
      });
      await store.syncCodeSchedules(this.namespace, workflow.name, schedules);
    }
  }

  async #sweeperFor(): Promise<Sweeper> {
    if (!this.#sweeper) {
      const store = await this.#openStore();
      this.#sweeper ??= new Sweeper(store, await this.#notifier(), this.namespace, this.#logger, () =>
        this.#definitionsByQueue(),
      );
    }
    return this.#sweeper;
  }

  #definitionsByQueue(): Map<string, TaskDefinition> {
    const definitions = new Map<string, TaskDefinition>();
    for (const task of this.#tasks.values()) definitions.set(task.definition.queueKey, task.definition);
    for (const workflow of this.#workflows.values()) {
      for (const task of workflow.tasks) definitions.set(task.definition.queueKey, task.definition);
    }
    return definitions;
  }

  async #workerStarted(worker: Worker): Promise<void> {
    this.#workers.add(worker);
    void this.#sweeperFor().then((sweeper) => {
      sweeper.start(this.#options.sweepIntervalMs);
      void sweeper.sweep();
    });
    if (!this.#scheduler) {
      this.#scheduler = new Scheduler(this.#runtime);
      this.#scheduler.start(Math.min(this.#options.sweepIntervalMs, 1_000));
    }
    // A virtual clock jump: live workers renew their leases first, then the sweep looks at the new time
    // and the scheduler fires what became due.
    this.#stopClockListener ??= this.#options.clock.onAdvance?.(async () => {
      await Promise.all([...this.#workers].map((w) => w.heartbeat()));
      await (await this.#sweeperFor()).sweep();
      await this.#scheduler?.tick().catch(() => undefined);
      for (const w of this.#workers) w.wake();
    });
    // The code's crons were just written: fire what is due and arm the clock timer for the next.
    await this.#scheduler.tick().catch((error: unknown) => this.#logger.warn({ err: error }, 'scheduler pass failed'));
  }
}
