/**
 * Turns stored rows into the public shapes: `State` objects (with output,
 * error and `waitingOn`), log entries and run summaries. `waitingOn` joins the
 * stored reason (delay, retry delay, expired lease, cancellation) with what is
 * true now (no live worker serves the task).
 */
import { deserialize } from '../engine/serializer.js';
import { isTerminal, QUEUED_STATES, STATE_TYPE } from '../engine/states.js';
import type { LogEntry, State, WaitingOn } from '../engine/types.js';
import type { LogRow, RunRow, StateRow, Store, StoredWaitingOn } from '../store/types.js';

export function toWaitingOn(stored: StoredWaitingOn | null): WaitingOn | undefined {
  if (!stored) return undefined;
  const out: Record<string, unknown> = { ...stored };
  if (typeof out.until === 'number') out.until = new Date(out.until);
  if (typeof out.deadline === 'number') out.deadline = new Date(out.deadline);
  return out as unknown as WaitingOn;
}

export function stateFromRow(row: StateRow, run: RunRow | undefined): State {
  const state: State = { type: row.type, name: row.name, timestamp: new Date(row.at), attempt: row.attempt };
  if (row.message !== null) state.message = row.message;
  if (row.error) state.error = row.error;
  const waitingOn = toWaitingOn(row.waitingOn);
  if (waitingOn) state.waitingOn = waitingOn;
  if (run && row.name === 'Completed' && run.status === 'Completed') state.output = deserialize(run.output);
  return state;
}

/** The run's current state; `latest` is its newest state row (for timestamp and message). */
export function currentState(run: RunRow, latest: StateRow | undefined): State {
  const state: State = {
    type: STATE_TYPE[run.status],
    name: run.status,
    timestamp: new Date(latest?.name === run.status ? latest.at : (run.finishedAt ?? run.updatedAt)),
    attempt: run.attempt,
  };
  if (latest?.name === run.status && latest.message !== null) state.message = latest.message;
  if (run.status === 'Completed' || run.status === 'Cached' || run.status === 'Skipped') state.output = deserialize(run.output);
  if (run.error && !['Completed', 'Cached', 'Skipped', 'Pending', 'Running', 'Retrying'].includes(run.status)) {
    state.error = run.error;
  }
  const waitingOn = toWaitingOn(run.waitingOn);
  if (waitingOn && !isTerminal(run.status)) state.waitingOn = waitingOn;
  return state;
}

/**
 * Adds what is true now for a queued, due run: no live worker serves its task, or a
 * flow-control rule holds it back (a full concurrency key, a rate limit, labels no worker has).
 */
export async function withLiveWaitingOn(store: Store, run: RunRow, state: State, now: number): Promise<State> {
  if (!QUEUED_STATES.includes(run.status) || run.availableAt > now) return state;
  const workers = await store.listWorkers(run.namespace, { liveOnly: true });
  if (workers.some((w) => w.taskNames.includes(run.queueKey))) {
    const held = run.flow ? await store.flowWaitingOn(run.namespace, run.id) : undefined;
    if (!held) return state;
    return { ...state, waitingOn: held.reason === 'rate-limit' ? { ...held, until: new Date(held.until) } : held };
  }
  return {
    ...state,
    waitingOn: {
      reason: 'no-worker',
      task: run.taskName,
      message: `no live worker serves task "${run.taskName}"; start a worker with it`,
    },
  };
}

export function toLogEntry(row: LogRow): LogEntry {
  const entry: LogEntry = { time: new Date(row.time), level: row.level, message: row.message, attempt: row.attempt };
  if (row.fields) entry.fields = row.fields;
  return entry;
}

export interface RunSummary {
  id: string;
  taskName: string;
  workflowName: string;
  state: State;
  tags: Record<string, string>;
  createdAt: Date;
  attempt: number;
  parentRunId: string | undefined;
}

export function toSummary(run: RunRow): RunSummary {
  return {
    id: run.id,
    taskName: run.taskName,
    workflowName: run.workflowName,
    state: currentState(run, undefined),
    tags: run.tags,
    createdAt: new Date(run.createdAt),
    attempt: run.attempt,
    parentRunId: run.parentRunId ?? undefined,
  };
}
