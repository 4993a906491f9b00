/**
 * Test kit for user code: an in-memory Baton whose timers follow a TestClock,
 * a context builder, and `runTaskForTest` that runs one task function with a
 * given context and returns its output, logs and state.
 */
import { Baton } from '../api/baton.js';
import type { BatonOptions } from '../api/baton-options.js';
import type { Task } from '../api/task.js';
import { runInAttemptScope } from '../context/ambient.js';
import { type AttemptControl, type Cancellation, TaskContext, type UpstreamResults } from '../context/task-context.js';
import { STATE_TYPE } from '../engine/states.js';
import type { LogEntry, LogLevel, State, TriggerOrigin } from '../engine/types.js';
import type { SerializedError } from '../errors.js';
import { serializeError, toError } from '../errors.js';
import { newId } from '../ids.js';
import { TestClock } from './test-clock.js';

export interface TestBaton {
  baton: Baton;
  clock: TestClock;
}

/** An in-memory Baton on a TestClock, with short leases and sweeps. */
export function createTestBaton(options: Omit<BatonOptions, 'clock'> & { start?: Date } = {}): TestBaton {
  const { start, ...rest } = options;
  const clock = new TestClock(start);
  const baton = new Baton({ database: ':memory:', logLevel: 'warn', sweepInterval: '1s', ...rest, clock });
  return { baton, clock };
}

export interface TestContextOptions<Input = unknown, Lifespan = unknown> {
  input?: Input;
  attempt?: number;
  taskName?: string;
  tags?: Record<string, string>;
  metadata?: Record<string, unknown>;
  customContext?: Record<string, string>;
  priority?: number;
  parentOutputs?: Record<string, unknown>;
  skippedParents?: string[];
  taskRunErrors?: Record<string, string>;
  trigger?: TriggerOrigin;
  lifespan?: Lifespan;
  checkpoint?: unknown;
  signal?: AbortSignal;
}

/** What a test context recorded. */
export interface TestContextRecord {
  logs: LogEntry[];
  stream: unknown[];
  checkpoint: unknown;
  progress: { fraction: number; message?: string } | undefined;
  cancelReason: string | undefined;
}

/** A context for unit-testing a task function without a store or worker. */
export function createTestContext<Input = unknown, Lifespan = unknown>(
  options: TestContextOptions<Input, Lifespan> = {},
): TaskContext<Input, Lifespan> & { readonly recorded: TestContextRecord } {
  const recorded: TestContextRecord = {
    logs: [],
    stream: [],
    checkpoint: options.checkpoint,
    progress: undefined,
    cancelReason: undefined,
  };
  const controller = new AbortController();
  options.signal?.addEventListener('abort', () => controller.abort(options.signal?.reason), { once: true });
  let cancellation: Cancellation | undefined;
  const attempt = options.attempt ?? 0;
  const control: AttemptControl = {
    isClosed: false,
    signal: controller.signal,
    deadline: undefined,
    get cancellation() {
      return cancellation;
    },
    async log(level: LogLevel, message: string, fields: Record<string, unknown> | null) {
      recorded.logs.push({ time: new Date(), level, message, attempt, ...(fields ? { fields } : {}) });
    },
    async cancel(reason: string) {
      recorded.cancelReason = reason;
      const now = new Date();
      cancellation = { reason, requestedAt: now, deadline: now };
      controller.abort(new Error(`cancelled: ${reason}`));
    },
    refreshTimeout() {},
    releaseSlot() {},
    async saveCheckpoint(data: unknown) {
      recorded.checkpoint = data;
    },
    async loadCheckpoint() {
      return recorded.checkpoint;
    },
    async progress(fraction: number, message: string | undefined) {
      recorded.progress = { fraction, ...(message === undefined ? {} : { message }) };
    },
    async putStream(data: unknown) {
      recorded.stream.push(data);
    },
  };
  const outputs = new Map<string, { skipped: boolean; output: unknown }>();
  for (const [name, output] of Object.entries(options.parentOutputs ?? {})) outputs.set(name, { skipped: false, output });
  for (const name of options.skippedParents ?? []) outputs.set(name, { skipped: true, output: undefined });
  const upstream: UpstreamResults = { outputs, errors: options.taskRunErrors ?? {} };
  const id = newId();
  const taskName = options.taskName ?? 'test-task';
  const context = new TaskContext<Input, Lifespan>(
    {
      taskRunId: id,
      workflowRunId: id,
      workflowId: 'test-workflow',
      workflowVersionId: 'test-version',
      workflowName: taskName,
      taskName,
      attempt,
      tags: options.tags ?? {},
      additionalMetadata: options.metadata ?? {},
      priority: options.priority ?? 1,
      input: options.input as Input,
      workflowInput: options.input,
      parentWorkflowRunId: undefined,
      origin: options.trigger ?? { kind: 'manual' },
      lifespan: options.lifespan as Lifespan,
      customContext: options.customContext ?? {},
      rawDataPath: `./.baton/raw/${id}`,
      worker: { id: 'test-worker', name: 'test-worker', labels: {} },
      upstream,
    },
    control,
  );
  return Object.assign(context, { recorded });
}

export interface TaskTestResult<Output> {
  output?: Output;
  error?: SerializedError;
  state: State<Output>;
  logs: LogEntry[];
  steps: { name: string; output: unknown }[];
}

/** Runs a task's function once with a test context (no store, no worker, no retries). */
export async function runTaskForTest<Input, Output>(
  task: Task<Input, Output>,
  input: Input,
  options: { context?: TestContextOptions<Input> } = {},
): Promise<TaskTestResult<Output>> {
  const context = createTestContext<Input>({ ...options.context, input, taskName: task.name });
  const fn = task.definition.fn as (input: Input, ctx: TaskContext<Input>) => unknown;
  const frame = { context: context as TaskContext, closed: false };
  try {
    const output = (await runInAttemptScope(frame, context.customContext, () => fn(input, context))) as Output;
    frame.closed = true;
    return {
      output,
      state: { type: STATE_TYPE.Completed, name: 'Completed', timestamp: new Date(), output },
      logs: context.recorded.logs,
      steps: [],
    };
  } catch (thrown) {
    frame.closed = true;
    const error = serializeError(toError(thrown));
    return {
      error,
      state: { type: STATE_TYPE.Failed, name: 'Failed', timestamp: new Date(), error, message: error.message },
      logs: context.recorded.logs,
      steps: [],
    };
  }
}
