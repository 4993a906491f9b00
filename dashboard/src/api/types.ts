/**
 * The shapes the HTTP API sends (docs/http-api.md), as the dashboard reads
 * them: every time is an ISO-8601 string. Only types: no fetching here.
 */

export const STATE_TYPES = [
  'SCHEDULED',
  'PENDING',
  'RUNNING',
  'WAITING',
  'COMPLETED',
  'FAILED',
  'CRASHED',
  'CANCELLING',
  'CANCELLED',
] as const;
export type StateType = (typeof STATE_TYPES)[number];

export const STATE_NAMES = [
  'Scheduled',
  'Pending',
  'Running',
  'Retrying',
  'AwaitingRetry',
  'Waiting',
  'Completed',
  'Cached',
  'Skipped',
  'Failed',
  'TimedOut',
  'Crashed',
  'Cancelling',
  'Cancelled',
] as const;

export const TERMINAL_TYPES: readonly StateType[] = ['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED'];

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  data?: unknown;
  cause?: SerializedError;
}

/** Why a run is not progressing (DESIGN.md §2.7); `reason` picks which other fields are set. */
export interface WaitingOn {
  reason: string;
  message: string;
  until?: string;
  deadline?: string;
  task?: string;
  workerId?: string;
  workerName?: string;
  parents?: string[];
  signalKey?: string;
  childRunId?: string;
  key?: string;
  max?: number;
  labels?: Record<string, string>;
  runId?: string;
}

export interface State {
  type: StateType;
  name: string;
  timestamp: string;
  message?: string;
  output?: unknown;
  error?: SerializedError;
  waitingOn?: WaitingOn;
  attempt?: number;
}

export interface RunSummary {
  id: string;
  taskName: string;
  workflowName: string;
  state: State;
  tags: Record<string, string>;
  createdAt: string;
  attempt: number;
  parentRunId?: string;
  /** Not in docs/http-api.md yet; shown when the server sends it. */
  workflowRunId?: string;
}

export interface AttemptInfo {
  attempt: number;
  workerId: string;
  workerName?: string;
  startedAt: string;
  endedAt?: string;
  outcome?: string;
}

export interface DagTask {
  name: string;
  parents: string[];
  runId?: string;
  state?: State;
}

export interface Step {
  name: string;
  kind: string;
  output?: unknown;
  error?: SerializedError;
  attempt: number;
  createdAt: string;
}

export interface Run extends RunSummary {
  kind: 'task' | 'workflow';
  input?: unknown;
  output?: unknown;
  error?: SerializedError;
  metadata?: Record<string, unknown>;
  trigger?: Trigger;
  priority?: number;
  progress?: { value: number; message?: string };
  states: State[];
  attempts: AttemptInfo[];
  children: RunSummary[];
  dag?: { tasks: DagTask[] };
  steps: Step[];
}

export interface EventRecord {
  id: string;
  key: string;
  payload?: unknown;
  metadata?: Record<string, unknown>;
  time: string;
}

export type Trigger =
  | { kind: 'manual' }
  | { kind: 'event'; event: EventRecord }
  | { kind: 'cron'; expression: string; scheduledAt: string }
  | { kind: 'schedule'; scheduleId: string }
  | { kind: 'child'; parentTaskRunId: string }
  | { kind: 'replay'; sourceRunId: string }
  | { kind: 'fork'; sourceRunId: string; fromStep: string }
  | { kind: 'transaction'; hook: string; transactionId: string; sourceRunId: string }
  | { kind: 'retry'; previousAttempt: number; origin: Trigger };

export interface LogEntry {
  /** Not in docs/http-api.md yet: the entry's position, for `logs?after=`. */
  index?: number;
  time: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields?: unknown;
  attempt: number;
}

export interface Schedule {
  id: string;
  kind: 'cron' | 'once';
  target: string;
  cron?: string;
  timezone?: string;
  overlap: string;
  misfire: string;
  input?: unknown;
  fromCode: boolean;
  nextFireAt?: string | null;
  lastRunId?: string;
  lastFiredAt?: string;
  createdAt: string;
}

export interface Worker {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** The docs say "with live slots in use"; the server may send a number or `{ used, total }`. */
  slots: number | { used?: number; total?: number; inUse?: number; max?: number };
  slotsInUse?: number;
  taskNames: string[];
  host: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
  stoppedAt?: string;
  live: boolean;
}

export interface RegisteredTask {
  name: string;
  kind: 'task' | 'workflow';
  version: string;
  inputSchema?: unknown;
}

export interface StatsBucket {
  start: string;
  completed: number;
  failed: number;
  /** In docs/http-api.md; the server sends `cancelled` instead (so far). */
  started?: number;
  cancelled?: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface Stats {
  buckets: StatsBucket[];
  byState: Record<string, number>;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface Issue {
  path: string | (string | number)[];
  message: string;
}
