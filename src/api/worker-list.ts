/** The namespace's workers with their slots in use, for `GET /workers`, `baton workers` and the dashboard. */
import { LEASED_STATES } from '../engine/states.js';
import type { Store } from '../store/types.js';

export interface WorkerSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  slots: number;
  slotsInUse: number;
  /** The tasks it serves (its private inline and hook queues left out). */
  taskNames: string[];
  host: string;
  pid: number;
  startedAt: Date;
  heartbeatAt: Date;
  stoppedAt?: Date;
  /** Heartbeating within its lease. */
  live: boolean;
}

export async function listWorkerSummaries(store: Store, namespace: string): Promise<WorkerSummary[]> {
  const [all, live, running] = await Promise.all([
    store.listWorkers(namespace),
    store.listWorkers(namespace, { liveOnly: true }),
    store.listRuns({ namespace, statuses: LEASED_STATES, limit: 1000 }),
  ]);
  const liveIds = new Set(live.map((w) => w.id));
  const busy = new Map<string, number>();
  for (const run of running.items) if (run.leaseOwner) busy.set(run.leaseOwner, (busy.get(run.leaseOwner) ?? 0) + 1);
  return all.map((w) => ({
    id: w.id,
    name: w.name,
    labels: w.labels,
    slots: w.slots,
    slotsInUse: busy.get(w.id) ?? 0,
    taskNames: w.taskNames.filter((t) => !t.startsWith('~')),
    host: w.host,
    pid: w.pid,
    startedAt: new Date(w.startedAt),
    heartbeatAt: new Date(w.heartbeatAt),
    ...(w.stoppedAt === null ? {} : { stoppedAt: new Date(w.stoppedAt) }),
    live: liveIds.has(w.id),
  }));
}
