/** The public surface of `baton`, and nothing else. */
export { Baton, type ScheduleOptions, type TaskOutput } from './api/baton.js';
export type { BatonOptions } from './api/baton-options.js';
export type { EnqueueOptions } from './api/enqueue.js';
export { type EventList, type EventListFilter, Events, type PushEventOptions } from './api/events.js';
export type {
  ConcurrencyRule,
  DebounceRule,
  DesiredLabel,
  FlowOptions,
  RateLimitRule,
} from './api/flow-options.js';
export type { InlineOptions } from './api/inline.js';
export { type MigrateOptions, migrate } from './api/migrate.js';
export { type AttemptInfo, RunHandle } from './api/run-handle.js';
export type { RunSummary } from './api/run-state.js';
export type { RunList, RunListFilter } from './api/runs.js';
export { MISFIRE_GRACE_MS, type ScheduleInfo, Schedules } from './api/schedules.js';
export { Task } from './api/task.js';
export type { TaskOptions } from './api/task-options.js';
export { type Transaction, TransactionRolledBackError } from './api/transaction.js';
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
export { type ContextKey, type ContextKeyOptions, defineContextKey } from './context/context-keys.js';
export {
  DurableContext,
  type DurableTransaction,
  type StepOptions,
  type WaitCondition,
  type WaitResult,
} from './context/durable-context.js';
export {
  CONTEXT_HEADER,
  type ContinueContextOptions,
  contextHeaders,
  continueContext,
  continueRequestContext,
  type HeadersLike,
} from './context/http-header.js';
export { hydratedContext, serializeContext } from './context/serialized-context.js';
export { type Cancellation, type LogOptions, TaskContext, type TaskRef, type WorkerInfo } from './context/task-context.js';
export type { TravelOptions } from './context/travel-call.js';
export { type ChildProcessOptions, runInChildProcess } from './context/travel-process.js';
export { runInWorkerThread, type WorkerThreadOptions } from './context/travel-thread.js';
export type { Duration } from './engine/duration.js';
export type { ConcurrencyStrategy, FlowKeyInfo } from './engine/flow-control.js';
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
export { type LoadedSettings, type LoadSettingsOptions, loadSettings, type SettingSource } from './settings/load-settings.js';
export type { HttpSettings, SettingKey, Settings, WorkerDefaults } from './settings/settings-schema.js';
export { type UseProfileOptions, useProfile } from './settings/use-profile.js';
export type { CrashInfo, TaskHooks } from './worker/task-definition.js';
export type { Worker } from './worker/worker.js';
