/**
 * GET /metrics: Prometheus text (prom-client), computed at scrape time from the
 * store so that any server process reports the same numbers: queue depth, runs
 * by state, worker slots, and run latency over the last 15 minutes.
 */
import { Gauge, Registry } from 'prom-client';
import { QUEUED_STATES } from '../engine/states.js';
import type { NamespaceApi } from './scope.js';

const LATENCY_WINDOW_MS = 15 * 60_000;
const QUANTILES = [0.5, 0.9, 0.99];

export class Metrics {
  readonly registry = new Registry();
  readonly #runs = new Gauge({
    name: 'baton_runs',
    help: 'Task runs by state',
    labelNames: ['namespace', 'state'],
    registers: [],
  });
  readonly #queueDepth = new Gauge({
    name: 'baton_queue_depth',
    help: 'Runs waiting to start',
    labelNames: ['namespace'],
    registers: [],
  });
  readonly #slots = new Gauge({
    name: 'baton_worker_slots',
    help: 'Slots of live workers',
    labelNames: ['namespace', 'worker'],
    registers: [],
  });
  readonly #slotsBusy = new Gauge({
    name: 'baton_worker_slots_busy',
    help: 'Slots in use',
    labelNames: ['namespace', 'worker'],
    registers: [],
  });
  readonly #latency = new Gauge({
    name: 'baton_run_latency_seconds',
    help: 'Enqueue-to-end time of runs that ended in the last 15 minutes, by quantile',
    labelNames: ['namespace', 'quantile'],
    registers: [],
  });
  readonly #ended = new Gauge({
    name: 'baton_runs_ended_recent',
    help: 'Runs that ended in the last 15 minutes, by state',
    labelNames: ['namespace', 'state'],
    registers: [],
  });

  constructor() {
    for (const metric of [this.#runs, this.#queueDepth, this.#slots, this.#slotsBusy, this.#latency, this.#ended]) {
      this.registry.registerMetric(metric);
    }
  }

  async render(apis: readonly NamespaceApi[]): Promise<string> {
    this.registry.resetMetrics();
    for (const api of apis) {
      const ns = api.namespace;
      const store = await api.runtime.store();
      const now = api.runtime.clock.now();
      const [stats, workers, running] = await Promise.all([
        store.runStats(ns, now - LATENCY_WINDOW_MS, 100_000),
        store.listWorkers(ns, { liveOnly: true }),
        store.listRuns({ namespace: ns, statuses: ['Running', 'Retrying', 'Cancelling'], limit: 1000 }),
      ]);
      let depth = 0;
      for (const [state, count] of Object.entries(stats.byStatus)) {
        this.#runs.set({ namespace: ns, state }, count ?? 0);
        if (QUEUED_STATES.includes(state as never)) depth += count ?? 0;
      }
      this.#queueDepth.set({ namespace: ns }, depth);
      for (const w of workers) {
        this.#slots.set({ namespace: ns, worker: w.name }, w.slots);
        this.#slotsBusy.set({ namespace: ns, worker: w.name }, running.items.filter((r) => r.leaseOwner === w.id).length);
      }
      const latencies = stats.ended.map((r) => (r.finishedAt - r.createdAt) / 1000).sort((a, b) => a - b);
      for (const q of QUANTILES) {
        if (latencies.length > 0) {
          this.#latency.set(
            { namespace: ns, quantile: String(q) },
            latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number,
          );
        }
      }
      const endedBy = new Map<string, number>();
      for (const r of stats.ended) endedBy.set(r.status, (endedBy.get(r.status) ?? 0) + 1);
      for (const [state, count] of endedBy) this.#ended.set({ namespace: ns, state }, count);
    }
    return this.registry.metrics();
  }
}
