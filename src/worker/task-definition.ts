/**
 * What a worker needs to know about a task: its function, schemas, retry
 * policy, timeouts and hooks, already validated and normalized to ms.
 */
import type { TaskContext } from '../context/task-context.js';
import type { FlowSettings } from '../engine/flow-control.js';
import type { RetryPolicy } from '../engine/retry-policy.js';
import type { Schema } from '../engine/schema.js';

export interface CrashInfo {
  runId: string;
  taskName: string;
  error: { name: string; message: string };
}

export interface TaskHooks<Input = unknown, Output = unknown> {
  onRunning?: (ctx: TaskContext<Input>) => unknown;
  onCompletion?: (ctx: TaskContext<Input>, output: Output) => unknown;
  onFailure?: (ctx: TaskContext<Input>, error: Error) => unknown;
  onRetry?: (ctx: TaskContext<Input>, error: Error, retry: { attempt: number; delayMs: number }) => unknown;
  onCancellation?: (ctx: TaskContext<Input>, reason: string) => unknown;
  /** A member of a `baton.transaction` that completed is undone: the transaction rolled back (newest completion first). */
  onRollback?: (ctx: TaskContext<Input>, member: { runId: string; output: Output }) => unknown;
  /** Every member of the (outermost) transaction completed. */
  onCommit?: (ctx: TaskContext<Input>, member: { runId: string; output: Output }) => unknown;
  /** Runs in the process whose sweeper found the crash (it has no live context). */
  onCrashed?: (info: CrashInfo) => unknown;
}

// The definition is stored type-erased: the Task that made it carries the real types.
// biome-ignore lint/suspicious/noExplicitAny: type-erased context for stored hooks and functions
type AnyContext = TaskContext<any, any>;

/** What a task of a DAG workflow adds to its definition. */
export interface WorkflowTaskInfo {
  readonly workflowName: string;
  readonly parents: readonly string[];
  readonly isOnFailure: boolean;
  readonly skipIf: ((ctx: AnyContext) => boolean | Promise<boolean>) | undefined;
  /** The workflow's version id (changes when any of its tasks changes). */
  versionId(): string;
}

export interface TaskDefinition {
  readonly name: string;
  readonly kind: 'task';
  readonly version: string;
  readonly workflowId: string;
  /** What workers claim it by: the name, or `<workflow>><task>` inside a workflow. */
  readonly queueKey: string;
  /** Set for a task of a DAG workflow. */
  readonly workflow: WorkflowTaskInfo | undefined;
  /** A durable task: its function gets a DurableContext and its steps are recorded. */
  readonly isDurable: boolean;
  readonly fn: (input: never, ctx: AnyContext) => unknown;
  readonly inputSchema: Schema | undefined;
  readonly outputSchema: Schema | undefined;
  readonly retryPolicy: RetryPolicy;
  readonly retryIf: ((error: Error, ctx: AnyContext) => boolean | Promise<boolean>) | undefined;
  readonly timeoutMs: number | undefined;
  readonly scheduleTimeoutMs: number | undefined;
  readonly priority: number;
  readonly maxCrashes: number;
  readonly cancelGraceMs: number;
  // biome-ignore lint/suspicious/noExplicitAny: type-erased hooks
  readonly hooks: TaskHooks<any, any>;
  /** Reuse of earlier outputs (DESIGN.md §2.7), when the task has `cache`. */
  readonly cache:
    | {
        key: 'inputs' | ((input: never, ctx: AnyContext) => string | Promise<string>);
        ttlMs: number | undefined;
        refresh: boolean;
      }
    | undefined;
  /** Flow-control rules (concurrency, rate limits, labels, debounce), when it has any. */
  readonly flow: FlowSettings | undefined;
}
