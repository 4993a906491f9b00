/**
 * The Store interface and its row types. `worker` and `api` see only this; the
 * SQLite and PostgreSQL backends implement it and pass one contract suite.
 *
 * Time: every method that writes a time uses the store's own time source (the
 * injected clock, or the database's now() on PostgreSQL without one), so callers
 * pass durations (`delayMs`, `leaseMs`) rather than absolute times where they can.
 * Fencing: every write of an attempt carries its lease epoch and is refused once
 * a newer claim exists (DESIGN.md §2.13).
 */

import type { CacheVerdict } from '../engine/cache.js';
import type { DagTaskSpec } from '../engine/dag.js';
import type { FlowReason, RunFlow } from '../engine/flow-control.js';
import type { EnqueueOutcome, LogLevel, StateName, StateType, TriggerOrigin, WaitingOn } from '../engine/types.js';
import type { SerializedError } from '../errors.js';

/** WaitingOn as stored: times as epoch ms. */
export type StoredWaitingOn = WaitingOn extends infer W
  ? W extends WaitingOn
    ? Omit<W, 'until' | 'deadline'> &
        ('until' extends keyof W ? { until?: number } : unknown) &
        ('deadline' extends keyof W ? { deadline?: number } : unknown)
    : never
  : never;

/** One task of a workflow as stored with each workflow run (enough to create its rows again). */
export interface StoredDagTask extends DagTaskSpec {
  queueKey: string;
  priority: number;
  maxCrashes: number;
  cancelGraceMs: number;
  scheduleTimeoutMs?: number;
}

/** The DAG a workflow run was started with. */
export interface StoredDag {
  version: string;
  tasks: StoredDagTask[];
}

export interface RunRow {
  id: string;
  namespace: string;
  /** `workflow` for the row of a DAG workflow run, `task` for every run a worker executes. */
  kind: 'task' | 'workflow';
  /** What workers claim by: the task name, or `<workflow>><task>` for a task of a workflow. */
  queueKey: string;
  workflowRunId: string;
  workflowName: string;
  taskName: string;
  /** The task run that enqueued this one (null for a root run). */
  parentRunId: string | null;
  parentWorkflowRunId: string | null;
  status: StateName;
  attempt: number;
  crashCount: number;
  maxCrashes: number;
  priority: number;
  /** Serialized input (see engine/serializer); null means undefined. */
  input: string | null;
  output: string | null;
  error: SerializedError | null;
  tags: Record<string, string>;
  metadata: Record<string, unknown>;
  customContext: Record<string, string>;
  trigger: TriggerOrigin;
  idempotencyKey: string | null;
  availableAt: number;
  scheduleDeadlineAt: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
  leaseEpoch: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  deadlineAt: number | null;
  cancelRequestedAt: number | null;
  cancelReason: string | null;
  cancelGraceMs: number;
  waitingOn: StoredWaitingOn | null;
  progress: number | null;
  progressMessage: string | null;
  /** Flow-control rules (concurrency, rate limits, labels, stickiness); null for a run without any. */
  flow: RunFlow | null;
  /** W3C trace context of the enqueue (the parent of every attempt's span); null without tracing. */
  traceContext: StoredTraceContext | null;
  /** Typed context values (`defineContextKey`), serialized; redacted ones sealed. Null when none. */
  contextValues: string | null;
}

export interface NewRun {
  id: string;
  /** Default `task`. */
  kind?: 'task' | 'workflow';
  /** Default: `taskName`. */
  queueKey?: string;
  /** Workflow rows: the DAG to advance. */
  dag?: StoredDag;
  /** Start `Waiting` (a task whose parents have not ended) or `Running` (a workflow row) instead of queued. */
  initialStatus?: 'Waiting' | 'Running';
  waitingOn?: StoredWaitingOn;
  workflowRunId: string;
  workflowName: string;
  taskName: string;
  parentRunId: string | null;
  parentWorkflowRunId: string | null;
  priority: number;
  input: string | null;
  tags: Record<string, string>;
  metadata: Record<string, unknown>;
  customContext: Record<string, string>;
  trigger: TriggerOrigin;
  /** Start no earlier than this many ms from now. */
  delayMs?: number;
  /** Start no earlier than this time (epoch ms); wins over delayMs. */
  runAt?: number;
  /** Time out if no worker claims it within this many ms of becoming due. */
  scheduleTimeoutMs?: number;
  maxCrashes: number;
  cancelGraceMs: number;
  idempotency?: { key: string; inputHash: string; windowMs: number };
  /** A fork: copy the source run's recorded steps that came before `beforeSeq`, in the same transaction. */
  copySteps?: { fromRunId: string; beforeSeq: number };
  /** Flow-control rules; a run with any is claimed through admission (engine/flow-control). */
  flow?: RunFlow;
  /** The `baton.transaction` the run belongs to. */
  transactionId?: string;
  /** Collapse into a queued run of the same task and key, replacing its input (DESIGN.md §2.6). */
  debounce?: { key: string; periodMs: number; maxWaitMs?: number };
  /** W3C trace context to store with the run (set by the enqueue span). */
  traceContext?: StoredTraceContext | null;
  /** Typed context values, serialized (see context/context-values). */
  contextValues?: string | null;
}

/** W3C trace context as a run stores it: the headers a propagator would carry. */
export interface StoredTraceContext {
  traceparent?: string;
  tracestate?: string;
  baggage?: string;
}

export interface TokenRow {
  id: string;
  tokenHash: string;
  name: string | null;
  /** Namespaces it may see; `*` is every namespace. */
  namespaces: string[];
  scope: 'read' | 'write';
  createdAt: number;
  revokedAt: number | null;
}

export interface RunStatsRows {
  byStatus: Partial<Record<StateName, number>>;
  ended: { status: StateName; createdAt: number; startedAt: number | null; finishedAt: number }[];
}

export type TransactionStatus = 'open' | 'committing' | 'committed' | 'rolling-back' | 'rolled-back';

export interface TransactionRow {
  id: string;
  namespace: string;
  parentId: string | null;
  status: TransactionStatus;
  /** The workflow run executing its onCommit or onRollback hooks. */
  hooksRunId: string | null;
  error: SerializedError | null;
  createdAt: number;
  updatedAt: number;
}

export interface TransactionChange {
  status: TransactionStatus;
  hooksRunId?: string;
  error?: SerializedError;
}

export interface CacheRequest {
  namespace: string;
  taskName: string;
  key: string;
  /** Compute even when a fresh entry exists (and replace it). */
  refresh: boolean;
}

export interface CreatedRun {
  id: string;
  outcome: EnqueueOutcome;
  /** Runs this enqueue cancelled (concurrency `cancel-in-progress`), for waking their workers. */
  cancelled?: CancelResult['changed'];
}

export interface ClaimRequest {
  namespace: string;
  workerId: string;
  /** Queue keys of the tasks the worker serves (see RunRow.queueKey). */
  taskNames: readonly string[];
  limit: number;
  leaseMs: number;
  /** The worker's labels, for runs with `desiredLabels`. */
  labels?: Record<string, string>;
}

export interface LeaseRef {
  runId: string;
  epoch: number;
}

export interface CancelNotice {
  runId: string;
  reason: string;
  requestedAt: number;
}

export interface LeaseRenewal {
  /** Runs whose lease this worker no longer holds: stop them and write nothing. */
  lost: string[];
  /** Runs whose cancellation was requested since they were claimed. */
  cancelRequested: CancelNotice[];
}

export type Settlement =
  | {
      kind: 'complete';
      runId: string;
      epoch: number;
      output: string | null;
      /** Record the output under this cache key (the task has `cache`). */
      cache?: { namespace: string; taskName: string; key: string; expiresAt: number | null };
    }
  /** A cache hit: the run ends Cached with an earlier run's output, without executing. */
  | { kind: 'cached'; runId: string; epoch: number; output: string | null; sourceRunId: string }
  | { kind: 'retry'; runId: string; epoch: number; error: SerializedError; delayMs: number; isTimeout: boolean }
  | { kind: 'fail'; runId: string; epoch: number; error: SerializedError; stateName: 'Failed' | 'TimedOut' }
  | { kind: 'cancel'; runId: string; epoch: number; reason: string; message?: string }
  /** A durable task sleeps or waits: the run turns Waiting, holds no slot, and is claimed again at `wakeAt`. */
  | {
      kind: 'suspend';
      runId: string;
      epoch: number;
      /** When to wake on its own (null: only when woken). */
      wakeAt: number | null;
      waitingOn: StoredWaitingOn;
      /** Wake when this run ends (at once if it already has). */
      waitForRunId?: string;
      /** Wake when an event with one of these keys is pushed (at once if one arrived since `eventsSince` that is not in `seenEventIds`). */
      eventWait?: { keys: string[]; since: number; seenEventIds: string[] };
    }
  /** `skipIf` said so: the run ends Skipped (type COMPLETED). */
  | { kind: 'skip'; runId: string; epoch: number; message: string }
  /** Give the run back without counting a crash (graceful stop). */
  | { kind: 'release'; runId: string; epoch: number };

export interface NewLog {
  runId: string;
  epoch: number;
  attempt: number;
  time: number;
  level: LogLevel;
  message: string;
  fields: Record<string, unknown> | null;
}

export interface LogRow {
  runId: string;
  attempt: number;
  time: number;
  level: LogLevel;
  message: string;
  fields: Record<string, unknown> | null;
}

export interface StateRow {
  runId: string;
  attempt: number;
  type: StateType;
  name: StateName;
  at: number;
  message: string | null;
  error: SerializedError | null;
  waitingOn: StoredWaitingOn | null;
}

export type AttemptOutcome = 'completed' | 'failed' | 'timed_out' | 'cancelled' | 'lease_expired' | 'released' | 'suspended';

export interface AttemptRow {
  runId: string;
  epoch: number;
  attempt: number;
  workerId: string;
  startedAt: number;
  endedAt: number | null;
  outcome: AttemptOutcome | null;
}

export type StepKind = 'step' | 'now' | 'uuid' | 'sleep' | 'child' | 'wait';

/** A recorded step of a durable task. */
export interface StepRow {
  runId: string;
  /** `name#n`: the n-th call of that name in the run. */
  key: string;
  /** Call order in the run (0-based). */
  seq: number;
  kind: StepKind;
  output: string | null;
  error: SerializedError | null;
  attempt: number;
  createdAt: number;
}

export type NewStep = Omit<StepRow, 'runId' | 'createdAt'>;

/** Steps of one attempt, fenced by its lease. */
export interface StepGroup {
  lease: LeaseRef;
  steps: readonly NewStep[];
}

/** SQL on Baton's own connection inside a step's transaction: `$1, $2, …` placeholders on both stores. */
export interface UserTransaction {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>;
}

export type StepTransactionResult<T> =
  | { outcome: 'committed'; value: T }
  /** Another execution recorded this step first: its writes stand, these were rolled back. */
  | { outcome: 'exists'; record: StepRow }
  /** The lease was lost: nothing was written. */
  | { outcome: 'fenced' };

export interface StreamChunkRow {
  runId: string;
  seq: number;
  data: string;
  at: number;
}

export interface WorkerRow {
  id: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  slots: number;
  taskNames: string[];
  host: string;
  pid: number;
  startedAt: number;
  heartbeatAt: number;
  leaseMs: number;
  stoppedAt: number | null;
}

export interface RegisteredTask {
  name: string;
  kind: 'task' | 'workflow';
  version: string;
  inputSchema: unknown | null;
  /** What starts it besides enqueues (workflows: the event keys they listen on). */
  triggers?: RegisteredTriggers | null;
  /** What is needed to create its runs without its code. */
  template?: RunTemplate | null;
  updatedAt: number;
}

export interface RegisteredTriggers {
  events: string[];
}

/** Enough to build a run's rows in a process that does not have the task's or workflow's code. */
export type RunTemplate =
  | { kind: 'workflow'; name: string; dag: StoredDag }
  | { kind: 'task'; name: string; priority: number; maxCrashes: number; cancelGraceMs: number; scheduleTimeoutMs?: number };

export interface EventRow {
  id: string;
  namespace: string;
  key: string;
  /** Serialized payload; null means undefined. */
  payload: string | null;
  metadata: Record<string, unknown>;
  time: number;
}

export interface EventIdempotency {
  key: string;
  windowMs: number;
}

export interface PushedEvent {
  /** The stored event: the new one, or the first event of its idempotency key. */
  event: EventRow;
  outcome: 'created' | 'deduplicated';
  runs: CreatedRun[];
}

export interface EventFilter {
  namespace: string;
  key?: string;
  limit: number;
  /** The id of the last event of the previous page (events come newest first). */
  cursor?: string;
}

export type OverlapPolicy = 'skip' | 'queue' | 'cancel-previous';
export type MisfirePolicy = 'run-once' | 'skip';

export interface ScheduleRow {
  id: string;
  namespace: string;
  kind: 'cron' | 'once';
  targetName: string;
  target: RunTemplate;
  input: string | null;
  metadata: Record<string, unknown>;
  cron: string | null;
  timezone: string | null;
  overlap: OverlapPolicy;
  misfire: MisfirePolicy;
  /** Written by a worker from `on.crons` (deterministic id), not by `baton.schedule()`. */
  fromCode: boolean;
  /** Null once a one-off schedule has fired. */
  nextFireAt: number | null;
  lastRunId: string | null;
  lastFiredAt: number | null;
  createdAt: number;
}

export type NewSchedule = Omit<ScheduleRow, 'lastRunId' | 'lastFiredAt' | 'createdAt'>;

export interface FireRequest {
  namespace: string;
  scheduleId: string;
  /** Compare-and-set: the fire happens only if next_fire_at still holds this value. */
  expectedNextFireAt: number;
  nextFireAt: number | null;
  /** The time being fired; null advances next_fire_at without a run (misfire `skip`). */
  scheduledAt: number | null;
  /** The rows of the run to start (the first is the run the schedule tracks). */
  runs: readonly NewRun[];
}

export interface FireResult {
  /** `lost`: another process fired (or moved) it first; `skipped`: overlap policy `skip` held it back. */
  outcome: 'fired' | 'skipped' | 'lost' | 'advanced';
  runId?: string;
  /** overlap `cancel-previous`: the previous run, still live, that the caller cancels. */
  previousRunId?: string;
}

export interface RunFilter {
  namespace: string;
  statuses?: readonly StateName[];
  taskName?: string;
  tags?: Record<string, string>;
  parentRunId?: string;
  createdAfter?: number;
  createdBefore?: number;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface RunPage {
  items: RunRow[];
  nextCursor: string | undefined;
}

export interface SweepResult {
  requeued: RunRow[];
  crashed: RunRow[];
  timedOut: RunRow[];
  cancelled: RunRow[];
}

export interface CancelResult {
  /** The run and every descendant that changed, with their new status. */
  changed: { id: string; status: StateName; leaseOwner: string | null }[];
  run: RunRow;
}

/** Options of `Store.pruneRuns`. */
export interface PruneOptions {
  /** Count what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Root runs examined per transaction (default 500). */
  batch?: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Names the database this store talks to (used to share in-process wake-ups). */
  readonly identity: string;
  /** The store's current time in epoch ms. */
  now(): Promise<number>;
  close(): Promise<void>;

  createRuns(namespace: string, runs: readonly NewRun[]): Promise<CreatedRun[]>;
  claimRuns(request: ClaimRequest): Promise<RunRow[]>;
  renewLeases(request: {
    namespace: string;
    workerId: string;
    leaseMs: number;
    leases: readonly LeaseRef[];
  }): Promise<LeaseRenewal>;
  /** Writes logs first, then settlements, in one transaction; returns each run's new status (null when fenced). */
  settle(logs: readonly NewLog[], settlements: readonly Settlement[]): Promise<(StateName | null)[]>;
  saveCheckpoint(lease: LeaseRef, data: string): Promise<boolean>;
  loadCheckpoint(runId: string): Promise<string | null>;
  setProgress(lease: LeaseRef, progress: number, message: string | null): Promise<boolean>;
  setDeadline(lease: LeaseRef, deadlineAt: number | null): Promise<boolean>;
  appendStream(lease: LeaseRef, data: string): Promise<number | null>;
  readStream(runId: string, afterSeq: number, limit: number): Promise<StreamChunkRow[]>;
  /** Events with these keys pushed since `since` that the run has not consumed, oldest first. */
  findWaitEvents(namespace: string, runId: string, keys: readonly string[], since: number, limit: number): Promise<EventRow[]>;
  /** Records a wait's outcome and consumes its events, in one fenced transaction. `false` when the lease was lost. */
  resolveWait(lease: LeaseRef, step: NewStep, eventIds: readonly string[]): Promise<boolean>;
  /** Recorded steps of a run, in call order. */
  loadSteps(runId: string): Promise<StepRow[]>;
  /**
   * Records steps (first writer wins per key), each group fenced by its lease, all in one
   * transaction (the steps of many attempts share a commit). Per group, `false` when its lease
   * was lost (nothing of it written).
   */
  recordSteps(batch: readonly StepGroup[]): Promise<boolean[]>;
  /**
   * Runs `fn` in one database transaction that also records the step (its output
   * from `encode`), fenced by the lease: the user's writes and the record commit
   * together or not at all.
   */
  runStepTransaction<T>(
    lease: LeaseRef,
    step: { key: string; seq: number; attempt: number },
    fn: (tx: UserTransaction) => Promise<T>,
    encode: (value: T) => string | null,
  ): Promise<StepTransactionResult<T>>;

  requestCancel(namespace: string, runId: string, reason: string): Promise<CancelResult | undefined>;
  retryRun(namespace: string, runId: string): Promise<RunRow>;

  getRun(namespace: string, runId: string): Promise<RunRow | undefined>;
  getRuns(namespace: string, runIds: readonly string[]): Promise<RunRow[]>;
  /** The task rows of a workflow run, with their outputs and errors. */
  listWorkflowTasks(namespace: string, workflowRunId: string): Promise<RunRow[]>;
  /** The DAG a workflow run was started with. */
  getDag(namespace: string, workflowRunId: string): Promise<StoredDag | undefined>;
  listRuns(filter: RunFilter): Promise<RunPage>;
  listStates(runId: string): Promise<StateRow[]>;
  listLogs(runId: string): Promise<LogRow[]>;
  listAttempts(runId: string): Promise<AttemptRow[]>;

  upsertWorker(worker: Omit<WorkerRow, 'heartbeatAt' | 'startedAt' | 'stoppedAt'>): Promise<void>;
  markWorkerStopped(workerId: string): Promise<void>;
  listWorkers(namespace: string, options?: { liveOnly?: boolean }): Promise<WorkerRow[]>;
  registerTasks(namespace: string, tasks: readonly Omit<RegisteredTask, 'updatedAt'>[]): Promise<void>;
  listTasks(namespace: string): Promise<RegisteredTask[]>;

  /**
   * Stores an event and starts the runs it triggers, in one transaction. With an idempotency
   * key that an event of the namespace still holds (pushed less than `windowMs` ago), stores
   * and starts nothing and returns that first event; an expired key moves to the new event.
   */
  pushEvent(event: EventRow, runs: readonly NewRun[], idempotency?: EventIdempotency): Promise<PushedEvent>;
  getEvent(namespace: string, id: string): Promise<EventRow | undefined>;
  /** Newest first. */
  listEvents(filter: EventFilter): Promise<{ items: EventRow[]; nextCursor: string | undefined }>;

  createSchedule(schedule: NewSchedule): Promise<ScheduleRow>;
  /**
   * Upserts the code-defined schedules of one target (keeping next_fire_at of an unchanged
   * cron) and deletes its code-defined schedules that are no longer listed.
   */
  syncCodeSchedules(namespace: string, targetName: string, schedules: readonly NewSchedule[]): Promise<void>;
  listSchedules(namespace: string): Promise<ScheduleRow[]>;
  deleteSchedule(namespace: string, id: string): Promise<boolean>;
  /** Schedules whose next_fire_at is at or before the store's now. */
  dueSchedules(namespace: string, limit: number): Promise<ScheduleRow[]>;
  /** Earliest next_fire_at of the namespace, or null. */
  nextScheduleAt(namespace: string): Promise<number | null>;
  /** Fires one due schedule atomically: CAS on next_fire_at, a unique fire record, the run's rows. */
  fireSchedule(request: FireRequest): Promise<FireResult>;

  /** The instance-wide secret that signs serialized contexts (created on first use, base64url). */
  secret(): Promise<string>;

  /** Re-queues or crashes runs whose lease expired, times out runs past their schedule deadline. */
  sweep(): Promise<SweepResult>;
  /** Earliest future due-time of a queued run of these tasks, or null. */
  nextDueAt(namespace: string, taskNames: readonly string[]): Promise<number | null>;
  /** Why a queued, due run with flow-control rules may not start now (undefined: it may). */
  flowWaitingOn(namespace: string, runId: string): Promise<FlowReason | undefined>;
  /**
   * Looks up a run's cache key and, when the run is to compute it, marks the entry as
   * computed by it (atomically: of identical runs, one computes and the others wait).
   * Null when the lease is lost.
   */
  lookupCache(lease: LeaseRef, request: CacheRequest): Promise<CacheVerdict | null>;

  createToken(token: TokenRow): Promise<void>;
  findToken(tokenHash: string): Promise<TokenRow | undefined>;
  listTokens(): Promise<TokenRow[]>;
  revokeToken(id: string): Promise<boolean>;
  /**
   * Retention: deletes root runs of the namespace that ended (terminal) before `finishedBefore`
   * (epoch ms) with their states, attempts, logs, stream chunks, steps and whole tree (a workflow
   * run's tasks, child runs); a tree with any run not terminal is kept. In batches of
   * `options.batch` roots, one transaction each. Resolves to the number of runs deleted (or,
   * with `dryRun`, that would be).
   */
  pruneRuns(namespace: string, finishedBefore: number, options?: PruneOptions): Promise<number>;
  /** Counts of runs by status, and the runs that ended since `since` (at most `limit`), for charts and metrics. */
  runStats(namespace: string, since: number, limit: number): Promise<RunStatsRows>;

  createTransaction(namespace: string, id: string, parentId: string | null): Promise<void>;
  updateTransaction(namespace: string, id: string, change: TransactionChange): Promise<void>;
  getTransaction(namespace: string, id: string): Promise<TransactionRow | undefined>;
  /** The runs enqueued inside the transaction (or handed to it by a committed inner one). */
  transactionMembers(namespace: string, id: string): Promise<RunRow[]>;
  /** A committed inner transaction's runs join the outer one. */
  moveTransactionMembers(namespace: string, fromId: string, toId: string): Promise<void>;
}
