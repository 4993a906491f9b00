/** The public surface of `baton`, and nothing else. */
export { Baton, type ScheduleOptions, type TaskOutput } from './api/baton.js';
export type { BatonOptions } from './api/baton-options.js';
export type { EnqueueOptions } from './api/enqueue.js';
export { type EventList, type EventListFilter, Events, type PushEventOptions } from './api/events.js';
export { type MigrateOptions, migrate } from './api/migrate.js';
export { type AttemptInfo, RunHandle } from './api/run-handle.js';
export type { RunSummary } from './api/run-state.js';
export type { RunList, RunListFilter } from './api/runs.js';
export { MISFIRE_GRACE_MS, type ScheduleInfo, Schedules } from './api/schedules.js';
export { Task } from './api/task.js';
export type { TaskOptions } from './api/task-options.js';
export type { WorkerOptions } from './api/worker-options.js';
export { type CronTrigger, Workflow, type WorkflowOptions, WorkflowTask, type WorkflowTaskOptions } from './api/workflow.js';
export { type Clock, systemClock, type TimerHandle } from './clock/clock.js';
export {
  getCustomContext,
  getRunContext,
  getTaskContext,
  runOutsideTaskContext,
  taskLog,
  withCustomContext,
  withTags,
} from './context/ambient.js';
export {
  DurableContext,
  type DurableTransaction,
  type StepOptions,
  type WaitCondition,
  type WaitResult,
} from './context/durable-context.js';
export { hydratedContext, serializeContext } from './context/serialized-context.js';
export { type Cancellation, type LogOptions, TaskContext, type TaskRef, type WorkerInfo } from './context/task-context.js';
export type { Duration } from './engine/duration.js';
export type { PayloadLimits } from './engine/limits.js';
export type { Schema } from './engine/schema.js';
export { deserialize, serialize } from './engine/serializer.js';
export { isTerminal } from './engine/states.js';
export type {
  EnqueueOutcome,
  EventRecord,
  JsonValue,
  LogEntry,
  LogLevel,
  State,
  StateName,
  StateType,
  Trigger,
  TriggerOrigin,
  WaitingOn,
} from './engine/types.js';
export {
  BatonError,
  CancelledError,
  ContextClosedError,
  IdempotencyConflictError,
  InvalidStateError,
  isBatonError,
  LeaseLostError,
  MissingContextError,
  NonDeterminismError,
  NonRetryableError,
  PayloadTooLargeError,
  RunFailedError,
  RunNotFoundError,
  SerializationError,
  type SerializedError,
  StorageError,
  TaskRunTimeoutError,
  UnknownTaskError,
  ValidationError,
  type ValidationIssue,
  WorkerStoppingError,
} from './errors.js';
export type { Logger } from './logger.js';
export type { CrashInfo, TaskHooks } from './worker/task-definition.js';
export type { Worker } from './worker/worker.js';
