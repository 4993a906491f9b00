/**
 * A worker: registers itself and its tasks, runs the lifespan, claims due runs
 * into free slots, heartbeats its leases (aborting attempts whose lease was
 * lost), and stops gracefully: no new claims, running attempts get until the
 * deadline, the rest are released back to the queue at once.
 */
import { hostname } from 'node:os';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { runOutsideTaskContext } from '../context/ambient.js';
import type { WorkerInfo } from '../context/task-context.js';
import type { PayloadLimits } from '../engine/limits.js';
import { newId } from '../ids.js';
import { type Logger, RepeatedWarning } from '../logger.js';
import type { Notifier } from '../store/notifier.js';
import type { RunRow, Store } from '../store/types.js';
import { Attempt, type AttemptHost } from './attempt.js';
import { StepQueue } from './step-queue.js';
import type { TaskDefinition } from './task-definition.js';
import { WriteQueue } from './write-queue.js';

/** How often a running worker measures the store's time against its clock again (monotonic ms). */
const STORE_CLOCK_SYNC_MS = 10_000;
/** A store.now() answer slower than this (or a clock that jumped meanwhile) is no usable sample. */
const STORE_CLOCK_MAX_RTT_MS = 1_000;

export type Lifespan<T> = () => AsyncGenerator<T, void, void> | Promise<T> | T;

export interface WorkerSettings {
  name: string;
  slots: number;
  labels: Record<string, string>;
  leaseMs: number;
  /** Undefined: 100 ms on SQLite (no cross-process wake-ups), 1 s on PostgreSQL (LISTEN/NOTIFY). */
  pollIntervalMs: number | undefined;
  shutdownTimeoutMs: number;
  lifespan: Lifespan<unknown> | undefined;
}

export interface WorkerRuntime {
  store(): Promise<Store>;
  readonly clock: Clock;
  readonly namespace: string;
  readonly logger: Logger;
  readonly limits: PayloadLimits;
  readonly rawDataRoot: string;
  notifier(): Promise<Notifier>;
  /** Registers tasks in the store's registry. */
  register(definitions: readonly TaskDefinition[]): Promise<void>;
  /** Resolves once the instance's background loops (sweeper, scheduler) made their first pass. */
  workerStarted(worker: Worker): void | Promise<void>;
  workerStopped(worker: Worker): void;
}

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

export class Worker {
  readonly id: string;
  readonly name: string;
  readonly #settings: WorkerSettings;
  readonly #runtime: WorkerRuntime;
  readonly #definitions: Map<string, TaskDefinition>;
  readonly #attempts = new Map<string, Attempt>();
  /** Attempts whose handler finished and gave up its slot while their result is being stored. */
  readonly #pendingResults = new Set<Attempt>();
  #state: State = 'idle';
  #busySlots = 0;
  #store: Store | undefined;
  #notifier: Notifier | undefined;
  #writes: WriteQueue | undefined;
  #steps: StepQueue | undefined;
  #lifespanValue: unknown;
  #secret: Buffer = Buffer.alloc(0);
  #lifespanGenerator: AsyncGenerator<unknown, void, void> | undefined;
  #wake: (() => void) | undefined;
  #wakePending = false;
  #loop: Promise<void> | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  /** A broken database fails every heartbeat and claim: one line per 10 s each, not one per try. */
  readonly #heartbeatFailure = new RepeatedWarning();
  readonly #claimFailure = new RepeatedWarning();
  #lastHeartbeatOk = 0;
  #dueTimer: TimerHandle | undefined;
  /** store.now() − clock.now(): the database's now() on PostgreSQL; 0 on SQLite or with an injected clock. */
  #storeOffsetMs = 0;
  #storeClockSyncedAt = Number.NEGATIVE_INFINITY;
  /**
   * The store's time as this process sees it. Attempts and due timers use it, so a due-time this
   * worker computes (a durable sleep's wake time, a cancellation's grace deadline) means the same
   * as the store's own due-times even when this machine's clock is off (DESIGN.md §2.13).
   */
  readonly #storeClock: Clock;
  #unsubscribe: (() => void)[] = [];
  #stopping: Promise<void> | undefined;
  #started: Promise<void> | undefined;

  constructor(runtime: WorkerRuntime, settings: WorkerSettings, definitions: readonly TaskDefinition[]) {
    this.#runtime = runtime;
    this.#settings = settings;
    this.id = newId(runtime.clock.now());
    this.name = settings.name;
    this.#definitions = new Map(definitions.map((d) => [d.queueKey, d]));
    const clock = runtime.clock;
    this.#storeClock = {
      now: () => clock.now() + this.#storeOffsetMs,
      setTimeout: (callback, ms) => clock.setTimeout(callback, ms),
      ...(clock.onAdvance ? { onAdvance: clock.onAdvance.bind(clock) } : {}),
    };
  }

  /** @internal Serves one more task from now on (inline runs add theirs on first use). */
  serve(definition: TaskDefinition): void {
    this.#definitions.set(definition.queueKey, definition);
  }

  /** Free slots right now. */
  get freeSlots(): number {
    return this.#settings.slots - this.#busySlots;
  }

  get isRunning(): boolean {
    return this.#state === 'running';
  }

  /** Runs currently executing on this worker. */
  get activeRunIds(): string[] {
    return [...this.#attempts.keys()];
  }

  start(): Promise<void> {
    if (this.#state !== 'idle') return Promise.reject(new Error(`worker ${this.name} was already started`));
    this.#state = 'starting';
    this.#started = this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    try {
      this.#store = await this.#runtime.store();
      this.#notifier = await this.#runtime.notifier();
      this.#writes = new WriteQueue(this.#store, this.#runtime.logger);
      this.#steps = new StepQueue(this.#store);
      this.#secret = Buffer.from(await this.#store.secret(), 'base64url');
      await this.#syncStoreClock(this.#store);
      this.#lifespanValue = await this.#openLifespan();
      await this.#runtime.register([...this.#definitions.values()]);
      await this.#store.upsertWorker({
        id: this.id,
        namespace: this.#runtime.namespace,
        name: this.name,
        labels: this.#settings.labels,
        slots: this.#settings.slots,
        taskNames: [...this.#definitions.keys()],
        host: hostname(),
        pid: process.pid,
        leaseMs: this.#settings.leaseMs,
      });
    } catch (error) {
      this.#state = 'stopped';
      await this.#closeLifespan();
      throw error;
    }
    this.#state = 'running';
    this.#lastHeartbeatOk = performance.now();
    const notifier = this.#notifier;
    this.#unsubscribe.push(
      notifier.onRunsAvailable((namespace) => {
        if (namespace === this.#runtime.namespace) this.wake();
      }),
      notifier.onCancelRequested((runId) => {
        if (this.#attempts.has(runId)) void this.heartbeat();
      }),
    );
    this.#heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(10, Math.floor(this.#settings.leaseMs / 3)));
    await this.#runtime.workerStarted(this);
    this.#loop = this.#claimLoop();
    this.#runtime.logger.info({ worker: this.name, id: this.id, slots: this.#settings.slots }, 'worker started');
  }

  /** Stops claiming, waits for running attempts until `timeout`, then releases the rest. */
  stop(options: { timeout?: number } = {}): Promise<void> {
    if (this.#state === 'idle') {
      this.#state = 'stopped';
      return Promise.resolve();
    }
    this.#stopping ??= this.#stop(options.timeout ?? this.#settings.shutdownTimeoutMs);
    return this.#stopping;
  }

  async #stop(timeout: number): Promise<void> {
    if (this.#state === 'starting') await this.#started?.catch(() => undefined);
    if (this.#state === 'stopped') return;
    this.#state = 'stopping';
    this.wake();
    await this.#loop;
    this.#dueTimer?.cancel();
    const all = Promise.all([...this.#attempts.values()].map((a) => a.finished));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, timeout)))]);
    clearTimeout(timer);
    await Promise.all([...this.#attempts.values()].map((a) => a.release()));
    await this.#writes?.drain();
    clearInterval(this.#heartbeatTimer);
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#writes?.close();
    try {
      await this.#store?.markWorkerStopped(this.id);
    } catch (error) {
      this.#runtime.logger.warn({ err: error, worker: this.name }, 'could not mark the worker stopped');
    }
    await this.#closeLifespan();
    this.#state = 'stopped';
    this.#runtime.workerStopped(this);
    this.#runtime.logger.info({ worker: this.name, id: this.id }, 'worker stopped');
  }

  /** Claims at once instead of waiting for the next poll. */
  wake(): void {
    this.#wakePending = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Renews leases now; aborts attempts whose lease was lost and passes on cancellations. */
  async heartbeat(): Promise<void> {
    const store = this.#store;
    if (!store || (this.#state !== 'running' && this.#state !== 'stopping')) return;
    const live = [...this.#attempts.values()].filter((a) => !a.isEnded);
    // A heartbeat that hangs (a blackholed connection) never fails, so check the age of the last good one first.
    this.#abortIfLeaseStale(live);
    // Attempts just abandoned as stale are not renewed: their runs go back to the queue after the
    // lease they already have, not after one more.
    const renewing = live.filter((a) => !a.isEnded);
    try {
      const renewal = await store.renewLeases({
        namespace: this.#runtime.namespace,
        workerId: this.id,
        leaseMs: this.#settings.leaseMs,
        leases: renewing.map((a) => a.lease),
      });
      this.#lastHeartbeatOk = performance.now();
      this.#heartbeatFailure.reset();
      for (const runId of renewal.lost) this.#attempts.get(runId)?.loseLease();
      for (const notice of renewal.cancelRequested) {
        this.#attempts.get(notice.runId)?.requestCancellation(notice.reason, notice.requestedAt);
      }
      if (this.#lastHeartbeatOk - this.#storeClockSyncedAt >= STORE_CLOCK_SYNC_MS) {
        await this.#syncStoreClock(store).catch((error: unknown) => {
          this.#runtime.logger.debug({ err: error }, "could not read the store's time");
        });
      }
    } catch (error) {
      this.#heartbeatFailure.warn(this.#runtime.logger, { err: error, worker: this.name }, 'heartbeat failed');
      this.#abortIfLeaseStale(renewing);
    }
  }

  /** Measures the offset of the store's time (the database's now() on PostgreSQL) from this process's clock. */
  async #syncStoreClock(store: Store): Promise<void> {
    const clock = this.#runtime.clock;
    const started = performance.now();
    const before = clock.now();
    const storeNow = await store.now();
    const after = clock.now();
    const elapsed = performance.now() - started;
    this.#storeClockSyncedAt = performance.now();
    // A slow answer is imprecise; a clock that moved other than real time meanwhile (a TestClock advance) is no sample.
    if (elapsed > STORE_CLOCK_MAX_RTT_MS || Math.abs(after - before - elapsed) > STORE_CLOCK_MAX_RTT_MS) return;
    this.#storeOffsetMs = storeNow - Math.round((before + after) / 2);
  }

  /** Without a successful heartbeat for lease − margin (monotonic time), another worker may own our runs. */
  #abortIfLeaseStale(live: Attempt[]): void {
    const margin = this.#settings.leaseMs / 6;
    if (performance.now() - this.#lastHeartbeatOk <= this.#settings.leaseMs - margin) return;
    for (const attempt of live) attempt.loseLease();
  }

  async #claimLoop(): Promise<void> {
    let failures = 0;
    while (this.#state === 'running') {
      // A slot freed by a finished handler is reused at once (the next claim overlaps the commit of
      // the results), but at most 2 × slots results wait to be stored.
      const free = Math.min(this.freeSlots, 2 * this.#settings.slots - this.#pendingResults.size);
      let claimed: RunRow[] = [];
      if (free > 0) {
        try {
          claimed = await this.#claim(free);
          failures = 0;
          this.#claimFailure.reset();
        } catch (error) {
          failures++;
          this.#claimFailure.warn(this.#runtime.logger, { err: error, worker: this.name, failures }, 'claim failed; backing off');
          await this.#idle(Math.min(30_000, 100 * 2 ** Math.min(failures, 8)));
          continue;
        }
      }
      if (claimed.length > 0 && claimed.length === free) {
        // The queue may hold more: yield one tick so finished attempts free their slots, then claim again.
        await new Promise((r) => setImmediate(r));
        continue;
      }
      if (claimed.length === 0 && free > 0) await this.#armDueTimer();
      await this.#idle(this.#pollIntervalMs());
      // Attempts that end together free their slots in the same tick: claim for all of them at once.
      await new Promise((r) => setImmediate(r));
    }
  }

  async #claim(limit: number): Promise<RunRow[]> {
    const store = this.#store as Store;
    this.#wakePending = false;
    const runs = await store.claimRuns({
      namespace: this.#runtime.namespace,
      workerId: this.id,
      taskNames: [...this.#definitions.keys()],
      limit,
      leaseMs: this.#settings.leaseMs,
      labels: this.#settings.labels,
    });
    for (const run of runs) this.#startAttempt(run);
    return runs;
  }

  #startAttempt(run: RunRow): void {
    const def = this.#definitions.get(run.queueKey);
    if (!def) return;
    const attempt = new Attempt(run, def, this.#host());
    this.#attempts.set(run.id, attempt);
    this.#busySlots++;
    void attempt.execute();
  }

  /** Sets a clock timer for the next delayed run, so it starts on time (and a TestClock can reach it). */
  async #armDueTimer(): Promise<void> {
    const store = this.#store as Store;
    try {
      const due = await store.nextDueAt(this.#runtime.namespace, [...this.#definitions.keys()]);
      this.#dueTimer?.cancel();
      this.#dueTimer = undefined;
      if (due !== null) {
        this.#dueTimer = this.#storeClock.setTimeout(() => this.wake(), due - this.#storeClock.now());
      }
    } catch (error) {
      this.#runtime.logger.debug({ err: error }, 'could not read the next due time');
    }
  }

  #pollIntervalMs(): number {
    return this.#settings.pollIntervalMs ?? (this.#store?.kind === 'postgres' ? 1_000 : 100);
  }

  #idle(ms: number): Promise<void> {
    if (this.#wakePending || this.#state !== 'running') {
      this.#wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #hostCache: AttemptHost | undefined;

  #host(): AttemptHost {
    if (this.#hostCache) return this.#hostCache;
    const info: WorkerInfo = { id: this.id, name: this.name, labels: this.#settings.labels };
    this.#hostCache = {
      store: this.#store as Store,
      clock: this.#storeClock,
      namespace: this.#runtime.namespace,
      logger: this.#runtime.logger,
      writes: this.#writes as WriteQueue,
      steps: this.#steps as StepQueue,
      notifier: this.#notifier as Notifier,
      workerInfo: info,
      lifespan: this.#lifespanValue,
      limits: this.#runtime.limits,
      rawDataRoot: this.#runtime.rawDataRoot,
      secret: this.#secret,
      slotFreed: () => {
        this.#busySlots--;
        this.wake();
      },
      resultPending: (attempt) => {
        this.#pendingResults.add(attempt);
      },
      attemptEnded: (attempt) => {
        if (this.#pendingResults.delete(attempt)) this.wake();
        if (this.#attempts.get(attempt.run.id) === attempt) this.#attempts.delete(attempt.run.id);
      },
    };
    return this.#hostCache;
  }

  async #openLifespan(): Promise<unknown> {
    const lifespan = this.#settings.lifespan;
    if (!lifespan) return undefined;
    return runOutsideTaskContext(async () => {
      const produced = await lifespan();
      if (isAsyncGenerator(produced)) {
        this.#lifespanGenerator = produced;
        const first = await produced.next();
        return first.value;
      }
      return produced;
    });
  }

  async #closeLifespan(): Promise<void> {
    const generator = this.#lifespanGenerator;
    this.#lifespanGenerator = undefined;
    if (!generator) return;
    try {
      await generator.next();
    } catch (error) {
      this.#runtime.logger.warn({ err: error, worker: this.name }, 'lifespan cleanup threw');
    }
  }
}

function isAsyncGenerator(value: unknown): value is AsyncGenerator<unknown, void, void> {
  return typeof value === 'object' && value !== null && typeof (value as AsyncGenerator).next === 'function';
}
