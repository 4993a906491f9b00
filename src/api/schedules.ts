/**
 * Schedules: crons from workflows' `on.crons` (deterministic ids, written when a
 * worker starts) and one-off `baton.schedule(target, input, { at })`, persisted
 * in the `schedules` table. Every process that runs a worker runs a Scheduler:
 * it fires due schedules through the store's compare-and-set, so each
 * (schedule, scheduled time) fires at most once across processes. Due-times
 * follow the clock (a clock timer is armed for the next fire time, and clock
 * jumps tick it); polling runs in real time.
 */
import type { Clock, TimerHandle } from '../clock/clock.js';
import type { TriggerOrigin } from '../engine/types.js';
import { type Logger, RepeatedWarning } from '../logger.js';
import type { MisfirePolicy, OverlapPolicy, ScheduleRow, Store } from '../store/types.js';
import { nextFire, parseCron } from './cron.js';
import { RunHandle } from './run-handle.js';
import type { BatonRuntime } from './runtime.js';
import { rowsFromTemplate } from './templates.js';

/** A cron fire later than this after its time counts as missed (the misfire policy applies). */
export const MISFIRE_GRACE_MS = 60_000;
/** Clock timers are re-armed at least this often (real timers cannot be longer than ~24 days). */
const MAX_TIMER_MS = 3_600_000;

export interface ScheduleInfo {
  id: string;
  kind: 'cron' | 'once';
  /** The task or workflow it starts. */
  target: string;
  cron: string | undefined;
  timezone: string | undefined;
  overlap: OverlapPolicy;
  misfire: MisfirePolicy;
  /** Whether it comes from a workflow's `on.crons` (rewritten whenever a worker starts). */
  fromCode: boolean;
  /** Null once a one-off schedule has fired. */
  nextFireAt: Date | null;
  lastRunId: string | undefined;
  lastFiredAt: Date | undefined;
  createdAt: Date;
}

export function toScheduleInfo(row: ScheduleRow): ScheduleInfo {
  return {
    id: row.id,
    kind: row.kind,
    target: row.targetName,
    cron: row.cron ?? undefined,
    timezone: row.timezone ?? undefined,
    overlap: row.overlap,
    misfire: row.misfire,
    fromCode: row.fromCode,
    nextFireAt: row.nextFireAt === null ? null : new Date(row.nextFireAt),
    lastRunId: row.lastRunId ?? undefined,
    lastFiredAt: row.lastFiredAt === null ? undefined : new Date(row.lastFiredAt),
    createdAt: new Date(row.createdAt),
  };
}

/** `baton.schedules`: list and delete persisted schedules. */
export class Schedules {
  readonly #runtime: BatonRuntime;
  readonly #changed: () => void;

  constructor(runtime: BatonRuntime, changed: () => void) {
    this.#runtime = runtime;
    this.#changed = changed;
  }

  async list(): Promise<ScheduleInfo[]> {
    return (await (await this.#runtime.store()).listSchedules(this.#runtime.namespace)).map(toScheduleInfo);
  }

  async get(id: string): Promise<ScheduleInfo | undefined> {
    return (await this.list()).find((s) => s.id === id);
  }

  /** Deletes a schedule; resolves to whether it existed. A cron from code comes back when a worker starts. */
  async delete(id: string): Promise<boolean> {
    const deleted = await (await this.#runtime.store()).deleteSchedule(this.#runtime.namespace, id);
    this.#changed();
    return deleted;
  }
}

/** Fires due schedules of one namespace. */
export class Scheduler {
  readonly #runtime: BatonRuntime;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #timer: TimerHandle | undefined;
  #interval: NodeJS.Timeout | undefined;
  #current: Promise<void> = Promise.resolve();
  #pending: Promise<void> | undefined;
  #isStopped = false;

  /** An unreachable or read-only database fails every pass: say so once per 10 s, not per poll. */
  readonly #passFailure = new RepeatedWarning();

  constructor(runtime: BatonRuntime) {
    this.#runtime = runtime;
    this.#clock = runtime.clock;
    this.#logger = runtime.logger;
  }

  /** Polls every `pollMs` real milliseconds, besides the clock timer for the next fire time. */
  start(pollMs: number): void {
    if (this.#interval || this.#isStopped) return;
    this.#interval = setInterval(() => void this.tick().catch(() => undefined), pollMs);
    this.#interval.unref();
    void this.tick().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.#isStopped = true;
    if (this.#interval) clearInterval(this.#interval);
    this.#timer?.cancel();
    await this.#current;
  }

  /** Fires everything due now, then arms the clock timer; concurrent calls share the next pass. */
  tick(): Promise<void> {
    if (this.#isStopped) return Promise.resolve();
    if (this.#pending !== undefined) return this.#pending;
    const pass = this.#current.then(() => {
      this.#pending = undefined;
      return this.#pass();
    });
    this.#pending = pass;
    this.#current = pass.then(
      () => this.#passFailure.reset(),
      (error: unknown) =>
        this.#passFailure.warn(this.#logger, { err: error }, 'scheduler pass failed; it runs again at the next poll'),
    );
    return pass;
  }

  async #pass(): Promise<void> {
    if (this.#isStopped) return;
    const store = await this.#runtime.store();
    for (let round = 0; round < 100 && !this.#isStopped; round++) {
      const due = await store.dueSchedules(this.#runtime.namespace, 100);
      if (due.length === 0) break;
      for (const schedule of due) await this.#fire(store, schedule);
    }
    if (this.#isStopped) return;
    const next = await store.nextScheduleAt(this.#runtime.namespace);
    this.#timer?.cancel();
    this.#timer = undefined;
    if (next !== null) {
      const delay = Math.min(Math.max(0, next - this.#clock.now()), MAX_TIMER_MS);
      this.#timer = this.#clock.setTimeout(() => void this.tick().catch(() => undefined), delay);
    }
  }

  async #fire(store: Store, schedule: ScheduleRow): Promise<void> {
    const expected = schedule.nextFireAt;
    if (expected === null) return;
    const now = await store.now();
    let scheduledAt: number | null = expected;
    let nextFireAt: number | null = null;
    let trigger: TriggerOrigin;
    if (schedule.kind === 'cron' && schedule.cron) {
      const cron = parseCron(schedule.cron, schedule.timezone ?? 'UTC', `schedule ${schedule.id}`);
      let latest = expected;
      for (let i = 0; i < 1_000_000; i++) {
        const n = nextFire(cron, latest);
        if (n === null || n > now) break;
        latest = n;
      }
      nextFireAt = nextFire(cron, Math.max(now, latest));
      const isMissed = latest > expected || now - expected > MISFIRE_GRACE_MS;
      if (isMissed) scheduledAt = schedule.misfire === 'skip' ? null : latest;
      trigger = { kind: 'cron', expression: schedule.cron, scheduledAt: new Date(scheduledAt ?? latest) };
    } else {
      trigger = { kind: 'schedule', scheduleId: schedule.id };
    }
    const runs =
      scheduledAt === null ? [] : rowsFromTemplate(this.#runtime, schedule.target, schedule.input, schedule.metadata, trigger);
    const result = await store.fireSchedule({
      namespace: this.#runtime.namespace,
      scheduleId: schedule.id,
      expectedNextFireAt: expected,
      nextFireAt,
      scheduledAt,
      runs,
    });
    if (result.outcome === 'fired') {
      (await this.#runtime.notifier()).runsAvailable(this.#runtime.namespace);
      if (result.previousRunId) {
        await new RunHandle(this.#runtime, result.previousRunId, 'created')
          .cancel('cancelled by the next fire of its schedule (overlap: cancel-previous)')
          .catch((error: unknown) => this.#logger.warn({ err: error }, 'could not cancel the previous run of a schedule'));
      }
    }
  }
}
