/**
 * `baton.worker(options)`: the options, their checks and their defaults. `slots`,
 * `lease` and `pollInterval` default to the settings (`BATON_WORKER_*`, the profile).
 */
import { type Duration, parseDuration } from '../engine/duration.js';
import { checkOptions, is } from '../engine/options.js';
import { ValidationError } from '../errors.js';
import { DEFAULT_SETTINGS, type WorkerDefaults } from '../settings/settings-schema.js';
import type { Lifespan, WorkerSettings } from '../worker/worker.js';
import { Task } from './task.js';
import { Workflow } from './workflow.js';

export interface WorkerOptions<L = unknown> {
  /** Shown in the dashboard and in `waitingOn`. Default `worker-<pid>`. */
  name?: string;
  /** Runs executing at once. Default `BATON_WORKER_SLOTS`, the profile's `worker.slots`, or 10. */
  slots?: number;
  /** The tasks and workflows this worker serves. */
  // biome-ignore lint/suspicious/noExplicitAny: a worker serves tasks of any input and output
  tasks: readonly (Task<any, any> | Workflow<any, any>)[];
  labels?: Record<string, string>;
  /** An async generator: the value it yields is `ctx.lifespan`; code after the yield runs on stop. */
  lifespan?: Lifespan<L>;
  /** Lease on each claimed run, renewed every lease/3. Default `BATON_WORKER_LEASE`, the profile's, or `30s`. */
  lease?: Duration;
  /**
   * How often an idle worker looks for work it was not woken for. Default `BATON_WORKER_POLL_INTERVAL`,
   * the profile's, or `100ms` on SQLite and `1s` on PostgreSQL (NOTIFY wakes it sooner).
   */
  pollInterval?: Duration;
  /** How long `stop()` waits for running attempts before releasing them. Default `30s`. */
  shutdownTimeout?: Duration;
}

export function resolveWorkerOptions(options: WorkerOptions, defaults: WorkerDefaults = DEFAULT_SETTINGS.worker): WorkerSettings {
  checkOptions('worker options', options, {
    name: is.name,
    slots: is.integer(1, 10_000),
    tasks: (v, k) =>
      Array.isArray(v) && v.length > 0 && v.every((t) => t instanceof Task || t instanceof Workflow)
        ? undefined
        : `${k} must be a non-empty array of tasks and workflows made by baton.task() and baton.workflow()`,
    labels: is.stringRecord,
    lifespan: is.function,
    lease: (v, k) => {
      const problem = is.positiveDuration(v, k);
      if (problem) return problem;
      return parseDuration(v as Duration) < 300 ? `${k} must be at least 300ms` : undefined;
    },
    pollInterval: is.positiveDuration,
    shutdownTimeout: is.duration,
  });
  if (!options.tasks) throw new ValidationError('worker options: tasks is required', [{ path: 'tasks', message: 'required' }]);
  const names = new Set<string>();
  for (const task of options.tasks) {
    if (names.has(task.name)) {
      throw new ValidationError(`worker options: task "${task.name}" is listed twice`, [{ path: 'tasks', message: 'duplicate' }]);
    }
    names.add(task.name);
  }
  return {
    name: options.name ?? `worker-${process.pid}`,
    slots: options.slots ?? defaults.slots,
    labels: options.labels ?? {},
    leaseMs: options.lease === undefined ? defaults.lease : parseDuration(options.lease),
    pollIntervalMs: options.pollInterval === undefined ? defaults.pollInterval : parseDuration(options.pollInterval),
    shutdownTimeoutMs: parseDuration(options.shutdownTimeout ?? '30s'),
    lifespan: options.lifespan as Lifespan<unknown> | undefined,
  };
}
