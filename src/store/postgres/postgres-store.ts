/**
 * The PostgreSQL store: Baton's tables in their own schema (default `baton`),
 * migrations on open under an advisory lock, claims with FOR UPDATE SKIP
 * LOCKED, every write in one transaction, wake-ups across processes with
 * LISTEN/NOTIFY (polling remains the fallback). Without an injected clock the
 * database's clock is the store's time. Connection loss surfaces as a
 * retryable StorageError; the worker backs off and tries again.
 */
import { randomBytes } from 'node:crypto';
import type { CacheVerdict } from '../../engine/cache.js';
import type { FlowReason } from '../../engine/flow-control.js';
import type { StateName } from '../../engine/types.js';
import { RunNotFoundError, ValidationError } from '../../errors.js';
import type { OpenStoreOptions } from '../open-store.js';
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
import { appendStream, renewLeases, saveCheckpoint, setDeadline, setProgress } from './attempt-writes.js';
import { lookupCache } from './cache.js';
import { claimRuns } from './claim-runs.js';
import {
  baseConfig,
  DEFAULT_POOL_SIZE,
  describeLocation,
  loadPg,
  PgConnection,
  quoteIdent,
  toStorageError,
} from './connection.js';
import { requestCancel, retryRun, sweep } from './control.js';
import { createRuns } from './create-runs.js';
import * as es from './events-schedules.js';
import { flowWaitingOn } from './flow.js';
import { NotifyListener } from './listener.js';
import { DEFAULT_SCHEMA, migrateWithClient } from './migrate.js';
import { pruneRuns } from './prune.js';
import * as reads from './reads.js';
import { settle } from './settle.js';
import { findWaitEvents, loadSteps, recordSteps, resolveWait, runStepTransaction } from './steps.js';
import * as tokens from './tokens-stats.js';
import * as txns from './transactions.js';
import { markWorkerStopped, registerTasks, upsertWorker } from './workers.js';

export { migratePostgres, migrationSql } from './migrate.js';

export interface PostgresOpenOptions extends OpenStoreOptions {
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Skip LISTEN/NOTIFY wake-ups (workers then rely on polling). */
  listen?: boolean;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly identity: string;
  readonly schema: string;
  private readonly c: PgConnection;
  private readonly listener: NotifyListener | undefined;
  private isClosed = false;

  private constructor(c: PgConnection, identity: string, listener: NotifyListener | undefined) {
    this.c = c;
    this.schema = c.schema;
    this.identity = identity;
    this.listener = listener;
  }

  /** Connects, migrates the schema (creating it when missing) and starts listening for wake-ups. */
  static async open(url: string, options: PostgresOpenOptions): Promise<PostgresStore> {
    const schema = options.schema ?? DEFAULT_SCHEMA;
    if (schema.length === 0 || schema.length > 48) {
      throw new ValidationError(`schema ${JSON.stringify(schema)} must be 1 to 48 characters`, [
        { path: 'schema', message: 'bad length' },
      ]);
    }
    const pg = await loadPg();
    const location = describeLocation(url);
    const migrator = new pg.Client(baseConfig(pg, url));
    migrator.on('error', () => undefined);
    try {
      await migrator.connect();
      await migrateWithClient(migrator, schema, location);
    } catch (error) {
      throw toStorageError(error, location);
    } finally {
      await migrator.end().catch(() => undefined);
    }
    const c = new PgConnection(pg, url, schema, options.clock, options.isClockInjected, options.poolSize ?? DEFAULT_POOL_SIZE);
    const identity = `postgres:${location}#${schema}`;
    const listener = options.listen === false ? undefined : new NotifyListener(pg, url, c.channel, identity, location);
    listener?.start();
    return new PostgresStore(c, identity, listener);
  }

  /** The connection pool, for `ctx.transaction` and tests. */
  get connection(): PgConnection {
    return this.c;
  }

  now(): Promise<number> {
    return this.c.now();
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await this.listener?.close();
    await this.c.close();
  }

  createRuns(namespace: string, runs: readonly NewRun[]): Promise<CreatedRun[]> {
    if (runs.length === 0) return Promise.resolve([]);
    return this.c.tx((tx) => createRuns(tx, namespace, runs));
  }

  claimRuns(request: ClaimRequest): Promise<RunRow[]> {
    if (request.limit <= 0 || request.taskNames.length === 0) return Promise.resolve([]);
    return claimRuns(this.c, request);
  }

  renewLeases(request: {
    namespace: string;
    workerId: string;
    leaseMs: number;
    leases: readonly LeaseRef[];
  }): Promise<LeaseRenewal> {
    return this.c.tx((tx) => renewLeases(tx, request));
  }

  settle(logs: readonly NewLog[], settlements: readonly Settlement[]): Promise<(StateName | null)[]> {
    if (logs.length === 0 && settlements.length === 0) return Promise.resolve([]);
    return this.c.tx((tx) => settle(tx, logs, settlements));
  }

  saveCheckpoint(lease: LeaseRef, data: string): Promise<boolean> {
    return this.c.tx((tx) => saveCheckpoint(tx, lease, data));
  }

  findWaitEvents(namespace: string, runId: string, keys: readonly string[], since: number, limit: number): Promise<EventRow[]> {
    return findWaitEvents(this.c, namespace, runId, keys, since, limit);
  }

  resolveWait(lease: LeaseRef, step: NewStep, eventIds: readonly string[]): Promise<boolean> {
    return this.c.tx((tx) => resolveWait(tx, lease, step, eventIds));
  }

  loadSteps(runId: string): Promise<StepRow[]> {
    return loadSteps(this.c, runId);
  }

  recordSteps(batch: readonly StepGroup[]): Promise<boolean[]> {
    return this.c.tx((tx) => recordSteps(tx, batch));
  }

  runStepTransaction<T>(
    lease: LeaseRef,
    step: { key: string; seq: number; attempt: number },
    fn: (tx: UserTransaction) => Promise<T>,
    encode: (value: T) => string | null,
  ): Promise<StepTransactionResult<T>> {
    return runStepTransaction(this.c, lease, step, fn, encode);
  }

  loadCheckpoint(runId: string): Promise<string | null> {
    return reads.loadCheckpoint(this.c, runId);
  }

  setProgress(lease: LeaseRef, progress: number, message: string | null): Promise<boolean> {
    return this.c.tx((tx) => setProgress(tx, lease, progress, message));
  }

  setDeadline(lease: LeaseRef, deadlineAt: number | null): Promise<boolean> {
    return this.c.tx((tx) => setDeadline(tx, lease, deadlineAt));
  }

  appendStream(lease: LeaseRef, data: string): Promise<number | null> {
    return this.c.tx((tx) => appendStream(tx, lease, data));
  }

  readStream(runId: string, afterSeq: number, limit: number): Promise<StreamChunkRow[]> {
    return reads.readStream(this.c, runId, afterSeq, limit);
  }

  requestCancel(namespace: string, runId: string, reason: string): Promise<CancelResult | undefined> {
    return this.c.tx((tx) => requestCancel(tx, namespace, runId, reason));
  }

  async retryRun(namespace: string, runId: string): Promise<RunRow> {
    const run = await this.c.tx((tx) => retryRun(tx, namespace, runId));
    if (!run) throw new RunNotFoundError(runId);
    return run;
  }

  getRun(namespace: string, runId: string): Promise<RunRow | undefined> {
    return reads.getRun(this.c, namespace, runId);
  }

  getRuns(namespace: string, runIds: readonly string[]): Promise<RunRow[]> {
    return reads.getRuns(this.c, namespace, runIds);
  }

  listWorkflowTasks(namespace: string, workflowRunId: string): Promise<RunRow[]> {
    return reads.listWorkflowTasks(this.c, namespace, workflowRunId);
  }

  getDag(namespace: string, workflowRunId: string): Promise<StoredDag | undefined> {
    return reads.getDag(this.c, namespace, workflowRunId);
  }

  listRuns(filter: RunFilter): Promise<RunPage> {
    return reads.listRuns(this.c, filter);
  }

  listStates(runId: string): Promise<StateRow[]> {
    return reads.listStates(this.c, runId);
  }

  listLogs(runId: string): Promise<LogRow[]> {
    return reads.listLogs(this.c, runId);
  }

  listAttempts(runId: string): Promise<AttemptRow[]> {
    return reads.listAttempts(this.c, runId);
  }

  upsertWorker(worker: Omit<WorkerRow, 'heartbeatAt' | 'startedAt' | 'stoppedAt'>): Promise<void> {
    return this.c.tx((tx) => upsertWorker(tx, worker));
  }

  markWorkerStopped(workerId: string): Promise<void> {
    return this.c.tx((tx) => markWorkerStopped(tx, workerId));
  }

  listWorkers(namespace: string, options: { liveOnly?: boolean } = {}): Promise<WorkerRow[]> {
    return reads.listWorkers(this.c, namespace, options.liveOnly ?? false);
  }

  registerTasks(namespace: string, tasks: readonly Omit<RegisteredTask, 'updatedAt'>[]): Promise<void> {
    return this.c.tx((tx) => registerTasks(tx, namespace, tasks));
  }

  listTasks(namespace: string): Promise<RegisteredTask[]> {
    return reads.listTasks(this.c, namespace);
  }

  /** The instance-wide secret that signs serialized contexts (made once, shared by every process). */
  pushEvent(event: EventRow, runs: readonly NewRun[], idempotency?: EventIdempotency): Promise<PushedEvent> {
    return this.c.tx((tx) => es.pushEvent(tx, event, runs, idempotency));
  }

  getEvent(namespace: string, id: string): Promise<EventRow | undefined> {
    return es.getEvent(this.c, namespace, id);
  }

  listEvents(filter: EventFilter): Promise<{ items: EventRow[]; nextCursor: string | undefined }> {
    return es.listEvents(this.c, filter);
  }

  createSchedule(schedule: NewSchedule): Promise<ScheduleRow> {
    return this.c.tx((tx) => es.createSchedule(tx, schedule));
  }

  syncCodeSchedules(namespace: string, targetName: string, schedules: readonly NewSchedule[]): Promise<void> {
    return this.c.tx((tx) => es.syncCodeSchedules(tx, namespace, targetName, schedules));
  }

  listSchedules(namespace: string): Promise<ScheduleRow[]> {
    return es.listSchedules(this.c, namespace);
  }

  deleteSchedule(namespace: string, id: string): Promise<boolean> {
    return this.c.tx((tx) => es.deleteSchedule(tx, namespace, id));
  }

  dueSchedules(namespace: string, limit: number): Promise<ScheduleRow[]> {
    return es.dueSchedules(this.c, namespace, limit);
  }

  nextScheduleAt(namespace: string): Promise<number | null> {
    return es.nextScheduleAt(this.c, namespace);
  }

  fireSchedule(request: FireRequest): Promise<FireResult> {
    return this.c.tx((tx) => es.fireSchedule(tx, request));
  }

  secret(): Promise<string> {
    return this.c.tx(async (tx) => {
      const meta = `${quoteIdent(this.schema)}.baton_meta`;
      await tx.query(`INSERT INTO ${meta} (key, value) VALUES ('context_secret', $1) ON CONFLICT (key) DO NOTHING`, [
        randomBytes(32).toString('base64url'),
      ]);
      const row = await tx.query<{ value: string }>(`SELECT value FROM ${meta} WHERE key = 'context_secret'`);
      return (row.rows[0] as { value: string }).value;
    });
  }

  sweep(): Promise<SweepResult> {
    return this.c.tx((tx) => sweep(tx));
  }

  nextDueAt(namespace: string, taskNames: readonly string[]): Promise<number | null> {
    return reads.nextDueAt(this.c, namespace, taskNames);
  }

  createToken(token: TokenRow): Promise<void> {
    return this.c.tx((tx) => tokens.createToken(tx, token));
  }

  findToken(tokenHash: string): Promise<TokenRow | undefined> {
    return this.c.tx((tx) => tokens.findToken(tx, tokenHash));
  }

  listTokens(): Promise<TokenRow[]> {
    return this.c.tx((tx) => tokens.listTokens(tx));
  }

  revokeToken(id: string): Promise<boolean> {
    return this.c.tx((tx) => tokens.revokeToken(tx, id));
  }

  pruneRuns(namespace: string, finishedBefore: number, options?: PruneOptions): Promise<number> {
    return pruneRuns(this.c, namespace, finishedBefore, options);
  }

  runStats(namespace: string, since: number, limit: number): Promise<RunStatsRows> {
    return this.c.tx((tx) => tokens.runStats(tx, namespace, since, limit));
  }

  createTransaction(namespace: string, id: string, parentId: string | null): Promise<void> {
    return this.c.tx((tx) => txns.createTransaction(tx, namespace, id, parentId));
  }

  updateTransaction(namespace: string, id: string, change: TransactionChange): Promise<void> {
    return this.c.tx((tx) => txns.updateTransaction(tx, namespace, id, change));
  }

  getTransaction(namespace: string, id: string): Promise<TransactionRow | undefined> {
    return this.c.tx((tx) => txns.getTransaction(tx, namespace, id));
  }

  transactionMembers(namespace: string, id: string): Promise<RunRow[]> {
    return this.c.tx((tx) => txns.transactionMembers(tx, namespace, id));
  }

  moveTransactionMembers(namespace: string, fromId: string, toId: string): Promise<void> {
    return this.c.tx((tx) => txns.moveTransactionMembers(tx, namespace, fromId, toId));
  }

  lookupCache(lease: LeaseRef, request: CacheRequest): Promise<CacheVerdict | null> {
    return this.c.tx((tx) => lookupCache(tx, lease, request));
  }

  flowWaitingOn(namespace: string, runId: string): Promise<FlowReason | undefined> {
    return this.c.tx((tx) => flowWaitingOn(tx, namespace, runId));
  }
}
