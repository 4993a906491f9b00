/**
 * The SQLite store: one file (WAL), migrations on open, every write in one
 * BEGIN IMMEDIATE transaction. Several processes may share one file; claims
 * are serialized by SQLite's write lock, so an attempt is never claimed twice.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../../clock/clock.js';
import type { CacheVerdict } from '../../engine/cache.js';
import type { FlowReason } from '../../engine/flow-control.js';
import type { StateName } from '../../engine/types.js';
import { RunNotFoundError } from '../../errors.js';
import type {
  AttemptRow,
  CacheRequest,
  CancelResult,
  ClaimRequest,
  CreatedRun,
  EventFilter,
  EventIdempotency,
  EventRow,
  FireRequest,
  FireResult,
  LeaseRef,
  LeaseRenewal,
  LogRow,
  NewLog,
  NewRun,
  NewSchedule,
  NewStep,
  PruneOptions,
  PushedEvent,
  RegisteredTask,
  RunFilter,
  RunPage,
  RunRow,
  RunStatsRows,
  ScheduleRow,
  Settlement,
  StateRow,
  StepGroup,
  StepRow,
  StepTransactionResult,
  Store,
  StoredDag,
  StreamChunkRow,
  SweepResult,
  TokenRow,
  TransactionChange,
  TransactionRow,
  UserTransaction,
  WorkerRow,
} from '../types.js';
import { appendStream, renewLeases, saveCheckpoint, setDeadline, setProgress, settle } from './attempt-writes.js';
import { lookupCache } from './cache.js';
import { claimRuns } from './claim-runs.js';
import { SqliteConnection } from './connection.js';
import { requestCancel, retryRun, sweep } from './control.js';
import { createRuns } from './create-runs.js';
import * as es from './events-schedules.js';
import { flowWaitingOn } from './flow.js';
import { migrateSqlite } from './migrate.js';
import { pruneRuns } from './prune.js';
import * as reads from './reads.js';
import { findWaitEvents, loadSteps, recordSteps, resolveWait, runStepTransaction } from './steps.js';
import * as tokens from './tokens-stats.js';
import * as txns from './transactions.js';

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly identity: string;
  private readonly c: SqliteConnection;

  private constructor(connection: SqliteConnection) {
    this.c = connection;
    this.identity = `sqlite:${connection.path}`;
  }

  /** Opens (creating when missing) the database at `path` and applies migrations. */
  static async open(path: string, clock: Clock): Promise<SqliteStore> {
    const connection = new SqliteConnection(path, clock);
    try {
      await migrateSqlite(connection);
    } catch (error) {
      connection.close();
      throw error;
    }
    return new SqliteStore(connection);
  }

  /** The raw connection, for `ctx.transaction` and tests. */
  get connection(): SqliteConnection {
    return this.c;
  }

  async now(): Promise<number> {
    return this.c.now();
  }

  async close(): Promise<void> {
    this.c.close();
  }

  createRuns(namespace: string, runs: readonly NewRun[]): Promise<CreatedRun[]> {
    return this.c.write(() => createRuns(this.c, namespace, runs));
  }

  claimRuns(request: ClaimRequest): Promise<RunRow[]> {
    return this.c.write(() => claimRuns(this.c, request));
  }

  renewLeases(request: {
    namespace: string;
    workerId: string;
    leaseMs: number;
    leases: readonly LeaseRef[];
  }): Promise<LeaseRenewal> {
    return this.c.write(() => renewLeases(this.c, request));
  }

  settle(logs: readonly NewLog[], settlements: readonly Settlement[]): Promise<(StateName | null)[]> {
    return this.c.write(() => settle(this.c, logs, settlements));
  }

  saveCheckpoint(lease: LeaseRef, data: string): Promise<boolean> {
    return this.c.write(() => saveCheckpoint(this.c, lease, data));
  }

  loadCheckpoint(runId: string): Promise<string | null> {
    return this.c.read(() => reads.loadCheckpoint(this.c, runId));
  }

  setProgress(lease: LeaseRef, progress: number, message: string | null): Promise<boolean> {
    return this.c.write(() => setProgress(this.c, lease, progress, message));
  }

  setDeadline(lease: LeaseRef, deadlineAt: number | null): Promise<boolean> {
    return this.c.write(() => setDeadline(this.c, lease, deadlineAt));
  }

  appendStream(lease: LeaseRef, data: string): Promise<number | null> {
    return this.c.write(() => appendStream(this.c, lease, data));
  }

  readStream(runId: string, afterSeq: number, limit: number): Promise<StreamChunkRow[]> {
    return this.c.read(() => reads.readStream(this.c, runId, afterSeq, limit));
  }

  findWaitEvents(namespace: string, runId: string, keys: readonly string[], since: number, limit: number): Promise<EventRow[]> {
    return this.c.read(() => findWaitEvents(this.c, namespace, runId, keys, since, limit));
  }

  resolveWait(lease: LeaseRef, step: NewStep, eventIds: readonly string[]): Promise<boolean> {
    return this.c.write(() => resolveWait(this.c, lease, step, eventIds));
  }

  loadSteps(runId: string): Promise<StepRow[]> {
    return this.c.read(() => loadSteps(this.c, runId));
  }

  recordSteps(batch: readonly StepGroup[]): Promise<boolean[]> {
    return this.c.write(() => batch.map((group) => recordSteps(this.c, group.lease, group.steps)));
  }

  runStepTransaction<T>(
    lease: LeaseRef,
    step: { key: string; seq: number; attempt: number },
    fn: (tx: UserTransaction) => Promise<T>,
    encode: (value: T) => string | null,
  ): Promise<StepTransactionResult<T>> {
    return runStepTransaction(this.c, lease, step, fn, encode);
  }

  requestCancel(namespace: string, runId: string, reason: string): Promise<CancelResult | undefined> {
    return this.c.write(() => requestCancel(this.c, namespace, runId, reason));
  }

  async retryRun(namespace: string, runId: string): Promise<RunRow> {
    const run = await this.c.write(() => retryRun(this.c, namespace, runId));
    if (!run) throw new RunNotFoundError(runId);
    return run;
  }

  getRun(namespace: string, runId: string): Promise<RunRow | undefined> {
    return this.c.read(() => reads.getRun(this.c, namespace, runId));
  }

  getRuns(namespace: string, runIds: readonly string[]): Promise<RunRow[]> {
    return this.c.read(() => reads.getRuns(this.c, namespace, runIds));
  }

  listWorkflowTasks(namespace: string, workflowRunId: string): Promise<RunRow[]> {
    return this.c.read(() => reads.listWorkflowTasks(this.c, namespace, workflowRunId));
  }

  getDag(namespace: string, workflowRunId: string): Promise<StoredDag | undefined> {
    return this.c.read(() => reads.getDag(this.c, namespace, workflowRunId));
  }

  listRuns(filter: RunFilter): Promise<RunPage> {
    return this.c.read(() => reads.listRuns(this.c, filter));
  }

  listStates(runId: string): Promise<StateRow[]> {
    return this.c.read(() => reads.listStates(this.c, runId));
  }

  listLogs(runId: string): Promise<LogRow[]> {
    return this.c.read(() => reads.listLogs(this.c, runId));
  }

  listAttempts(runId: string): Promise<AttemptRow[]> {
    return this.c.read(() => reads.listAttempts(this.c, runId));
  }

  upsertWorker(worker: Omit<WorkerRow, 'heartbeatAt' | 'startedAt' | 'stoppedAt'>): Promise<void> {
    return this.c.write(() => {
      const now = this.c.now();
      this.c
        .stmt(`INSERT INTO workers (id, namespace, name, labels, slots, task_names, host, pid, started_at, heartbeat_at, lease_ms)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, task_names = excluded.task_names,
            labels = excluded.labels, slots = excluded.slots, stopped_at = NULL`)
        .run(
          worker.id,
          worker.namespace,
          worker.name,
          JSON.stringify(worker.labels),
          worker.slots,
          JSON.stringify(worker.taskNames),
          worker.host || hostname(),
          worker.pid,
          now,
          now,
          worker.leaseMs,
        );
    });
  }

  markWorkerStopped(workerId: string): Promise<void> {
    return this.c.write(() => {
      this.c.stmt('UPDATE workers SET stopped_at = ? WHERE id = ?').run(this.c.now(), workerId);
    });
  }

  listWorkers(namespace: string, options: { liveOnly?: boolean } = {}): Promise<WorkerRow[]> {
    return this.c.read(() => reads.listWorkers(this.c, namespace, options.liveOnly ?? false));
  }

  registerTasks(namespace: string, tasks: readonly Omit<RegisteredTask, 'updatedAt'>[]): Promise<void> {
    return this.c.write(() => {
      const upsert =
        this.c.stmt(`INSERT INTO task_registry (namespace, name, kind, version, input_schema, updated_at, triggers, template)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (namespace, name) DO UPDATE SET kind = excluded.kind, version = excluded.version,
          input_schema = excluded.input_schema, updated_at = excluded.updated_at, triggers = excluded.triggers,
          template = excluded.template`);
      const now = this.c.now();
      for (const task of tasks) {
        upsert.run(
          namespace,
          task.name,
          task.kind,
          task.version,
          task.inputSchema === null ? null : JSON.stringify(task.inputSchema),
          now,
          task.triggers ? JSON.stringify(task.triggers) : null,
          task.template ? JSON.stringify(task.template) : null,
        );
      }
    });
  }

  listTasks(namespace: string): Promise<RegisteredTask[]> {
    return this.c.read(() => reads.listTasks(this.c, namespace));
  }

  pushEvent(event: EventRow, runs: readonly NewRun[], idempotency?: EventIdempotency): Promise<PushedEvent> {
    return this.c.write(() => es.pushEvent(this.c, event, runs, idempotency));
  }

  getEvent(namespace: string, id: string): Promise<EventRow | undefined> {
    return this.c.read(() => es.getEvent(this.c, namespace, id));
  }

  listEvents(filter: EventFilter): Promise<{ items: EventRow[]; nextCursor: string | undefined }> {
    return this.c.read(() => es.listEvents(this.c, filter));
  }

  createSchedule(schedule: NewSchedule): Promise<ScheduleRow> {
    return this.c.write(() => es.createSchedule(this.c, schedule));
  }

  syncCodeSchedules(namespace: string, targetName: string, schedules: readonly NewSchedule[]): Promise<void> {
    return this.c.write(() => es.syncCodeSchedules(this.c, namespace, targetName, schedules));
  }

  listSchedules(namespace: string): Promise<ScheduleRow[]> {
    return this.c.read(() => es.listSchedules(this.c, namespace));
  }

  deleteSchedule(namespace: string, id: string): Promise<boolean> {
    return this.c.write(() => es.deleteSchedule(this.c, namespace, id));
  }

  dueSchedules(namespace: string, limit: number): Promise<ScheduleRow[]> {
    return this.c.read(() => es.dueSchedules(this.c, namespace, limit));
  }

  nextScheduleAt(namespace: string): Promise<number | null> {
    return this.c.read(() => es.nextScheduleAt(this.c, namespace));
  }

  fireSchedule(request: FireRequest): Promise<FireResult> {
    return this.c.write(() => es.fireSchedule(this.c, request));
  }

  secret(): Promise<string> {
    return this.c.write(() => {
      this.c
        .stmt(`INSERT INTO baton_meta (key, value) VALUES ('context_secret', ?) ON CONFLICT (key) DO NOTHING`)
        .run(randomBytes(32).toString('base64url'));
      return (this.c.stmt(`SELECT value FROM baton_meta WHERE key = 'context_secret'`).get() as { value: string }).value;
    });
  }

  sweep(): Promise<SweepResult> {
    return this.c.write(() => sweep(this.c));
  }

  nextDueAt(namespace: string, taskNames: readonly string[]): Promise<number | null> {
    return this.c.read(() => reads.nextDueAt(this.c, namespace, taskNames));
  }

  createToken(token: TokenRow): Promise<void> {
    return this.c.write(() => tokens.createToken(this.c, token));
  }

  findToken(tokenHash: string): Promise<TokenRow | undefined> {
    return this.c.read(() => tokens.findToken(this.c, tokenHash));
  }

  listTokens(): Promise<TokenRow[]> {
    return this.c.read(() => tokens.listTokens(this.c));
  }

  revokeToken(id: string): Promise<boolean> {
    return this.c.write(() => tokens.revokeToken(this.c, id));
  }

  pruneRuns(namespace: string, finishedBefore: number, options?: PruneOptions): Promise<number> {
    return pruneRuns(this.c, namespace, finishedBefore, options);
  }

  runStats(namespace: string, since: number, limit: number): Promise<RunStatsRows> {
    return this.c.read(() => tokens.runStats(this.c, namespace, since, limit));
  }

  createTransaction(namespace: string, id: string, parentId: string | null): Promise<void> {
    return this.c.write(() => txns.createTransaction(this.c, namespace, id, parentId));
  }

  updateTransaction(namespace: string, id: string, change: TransactionChange): Promise<void> {
    return this.c.write(() => txns.updateTransaction(this.c, namespace, id, change));
  }

  getTransaction(namespace: string, id: string): Promise<TransactionRow | undefined> {
    return this.c.read(() => txns.getTransaction(this.c, namespace, id));
  }

  transactionMembers(namespace: string, id: string): Promise<RunRow[]> {
    return this.c.read(() => txns.transactionMembers(this.c, namespace, id));
  }

  moveTransactionMembers(namespace: string, fromId: string, toId: string): Promise<void> {
    return this.c.write(() => txns.moveTransactionMembers(this.c, namespace, fromId, toId));
  }

  lookupCache(lease: LeaseRef, request: CacheRequest): Promise<CacheVerdict | null> {
    return this.c.write(() => lookupCache(this.c, lease, request));
  }

  flowWaitingOn(namespace: string, runId: string): Promise<FlowReason | undefined> {
    return this.c.read(() => flowWaitingOn(this.c, namespace, runId));
  }
}
