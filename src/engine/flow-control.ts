/**
 * Flow control decisions (DESIGN.md §2.6): which held-back runs a worker may
 * start now under concurrency keys, rate limits, label wishes and sticky
 * workflows, and why a run that may not start is waiting. Pure: the store
 * loads a snapshot and applies the verdicts inside its claim transaction.
 */

export type ConcurrencyStrategy = 'queue' | 'group-round-robin' | 'cancel-in-progress' | 'cancel-newest';

/** One concurrency rule applied to one run: `holderId` is the run that occupies the key (itself or its workflow run). */
export interface FlowHold {
  /** Which rule: `<task or workflow name>#<rule index>`; keys are per scope. */
  scope: string;
  key: string;
  max: number;
  strategy: ConcurrencyStrategy;
  holderId: string;
}

export interface FlowRate {
  key: string;
  limit: number;
  perMs: number;
}

export interface FlowLabel {
  key: string;
  value: string;
  required: boolean;
  weight: number;
}

/** The flow-control rules of one run, stored with it. */
export interface RunFlow {
  holds?: FlowHold[];
  rates?: FlowRate[];
  labels?: FlowLabel[];
  sticky?: 'soft' | 'hard';
}

/** What a concurrency key function sees besides the input. */
export interface FlowKeyInfo {
  taskName: string;
  tags: Record<string, string>;
  metadata: Record<string, unknown>;
  priority: number;
}

/** Flow options normalized at definition time. */
export interface FlowSettings {
  // biome-ignore lint/suspicious/noExplicitAny: type-erased key functions
  concurrency: { key: string | ((input: any, info: FlowKeyInfo) => string); max: number; strategy: ConcurrencyStrategy }[];
  // biome-ignore lint/suspicious/noExplicitAny: type-erased key functions
  rateLimits: { key: string | ((input: any) => string); limit: number; perMs: number }[];
  labels: FlowLabel[];
  // biome-ignore lint/suspicious/noExplicitAny: type-erased key functions
  debounce: { key: string | ((input: any) => string); periodMs: number; maxWaitMs?: number } | undefined;
}

/** How long a run waits for a preferred worker (weighted labels, soft stickiness) before any worker may take it. */
export const PREFERENCE_WAIT_MS = 2_000;

export interface FlowWorker {
  id: string;
  labels: Record<string, string>;
  taskNames: readonly string[];
}

/** What the store knows at claim time, for the keys of the candidates. */
export interface FlowSnapshot {
  now: number;
  /** `scope\0key` → how many holders occupy it. */
  held: Map<string, number>;
  /** `scope\0holderId` of holders that occupy their key now. */
  holding: Set<string>;
  /** Rate key → start times inside its window, ascending. */
  hits: Map<string, number[]>;
  /** Live workers, for label and sticky preferences. */
  workers: FlowWorker[];
}

export interface FlowCandidate {
  id: string;
  queueKey: string;
  priority: number;
  availableAt: number;
  flow: RunFlow;
  /** Position of the run within its group (0-based), for round-robin between groups. */
  rank: number;
  /** The worker that ran the first task of a sticky workflow run. */
  stickyWorker: string | null;
}

/** Why a run may not start now; `until` is epoch ms. */
export type FlowReason =
  | { reason: 'concurrency'; message: string; key: string; max: number }
  | { reason: 'rate-limit'; message: string; key: string; until: number }
  | { reason: 'labels'; message: string; labels: Record<string, string> };

export type FlowVerdict = { ok: true } | { ok: false; waitingOn: FlowReason | undefined };

export const holdKey = (scope: string, key: string): string => `${scope}\u0000${key}`;

/** The group a run is fair-shared in: its first concurrency key, else its first rate key, else its queue. */
export function flowGroup(flow: RunFlow, queueKey: string): string {
  const hold = flow.holds?.[0];
  if (hold) return `c:${hold.scope}\u001f${hold.key}`;
  const rate = flow.rates?.[0];
  if (rate) return `r:${rate.key}`;
  return `q:${queueKey}`;
}

export function hasFlow(flow: RunFlow): boolean {
  return Boolean(flow.holds?.length || flow.rates?.length || flow.labels?.length || flow.sticky);
}

function labelScore(flow: RunFlow, worker: FlowWorker): number | undefined {
  let score = 0;
  for (const want of flow.labels ?? []) {
    const match = worker.labels[want.key] === want.value;
    if (want.required && !match) return undefined;
    if (match && !want.required) score += want.weight;
  }
  return score;
}

function requiredLabels(flow: RunFlow): Record<string, string> {
  return Object.fromEntries((flow.labels ?? []).filter((l) => l.required).map((l) => [l.key, l.value]));
}

/** Concurrency and rate limits: whether the run fits now, whoever runs it. */
function checkLimits(c: FlowCandidate, s: FlowSnapshot): FlowReason | undefined {
  for (const hold of c.flow.holds ?? []) {
    if (s.holding.has(holdKey(hold.scope, hold.holderId))) continue;
    const occupied = s.held.get(holdKey(hold.scope, hold.key)) ?? 0;
    if (occupied >= hold.max) {
      return {
        reason: 'concurrency',
        key: hold.key,
        max: hold.max,
        message: `concurrency key "${hold.key}" is full (${occupied} of ${hold.max} running)`,
      };
    }
  }
  for (const rate of c.flow.rates ?? []) {
    const inWindow = (s.hits.get(rate.key) ?? []).filter((t) => t > s.now - rate.perMs);
    if (inWindow.length >= rate.limit) {
      const until = (inWindow[inWindow.length - rate.limit] as number) + rate.perMs;
      return {
        reason: 'rate-limit',
        key: rate.key,
        until,
        message: `rate limit "${rate.key}" reached (${rate.limit} per ${rate.perMs}ms); next start at ${new Date(until).toISOString()}`,
      };
    }
  }
  return undefined;
}

/**
 * Whether `worker` may start the run now. With no worker, judges for any live
 * worker (what a status read shows). A verdict without `waitingOn` means
 * "another worker should take it".
 */
export function judge(c: FlowCandidate, s: FlowSnapshot, worker: FlowWorker | undefined): FlowVerdict {
  const serving = s.workers.filter((w) => w.taskNames.includes(c.queueKey));
  if (c.flow.labels?.length) {
    const eligible = serving.filter((w) => labelScore(c.flow, w) !== undefined);
    const mine = worker ? labelScore(c.flow, worker) : undefined;
    if (eligible.length === 0 && mine === undefined) {
      const labels = requiredLabels(c.flow);
      const text = Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      return { ok: false, waitingOn: { reason: 'labels', labels, message: `no live worker has the labels ${text}` } };
    }
    if (worker && mine === undefined) return { ok: false, waitingOn: undefined };
    if (worker && mine !== undefined && s.now - c.availableAt < PREFERENCE_WAIT_MS) {
      const best = Math.max(mine, ...eligible.map((w) => labelScore(c.flow, w) ?? 0));
      if (best > mine) return { ok: false, waitingOn: undefined };
    }
  }
  if (worker && c.flow.sticky && c.stickyWorker && c.stickyWorker !== worker.id) {
    const stickyAlive = s.workers.some((w) => w.id === c.stickyWorker);
    if (stickyAlive && (c.flow.sticky === 'hard' || s.now - c.availableAt < PREFERENCE_WAIT_MS)) {
      return { ok: false, waitingOn: undefined };
    }
  }
  const limited = checkLimits(c, s);
  return limited ? { ok: false, waitingOn: limited } : { ok: true };
}

/** Claim order: priority, then (for round-robin groups) the run's place in its group, then due-time. */
function claimOrder(a: FlowCandidate, b: FlowCandidate): number {
  return (
    b.priority - a.priority ||
    fairRank(a) - fairRank(b) ||
    a.availableAt - b.availableAt ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

function fairRank(c: FlowCandidate): number {
  return c.flow.holds?.[0]?.strategy === 'group-round-robin' ? c.rank : 0;
}

export interface Admission {
  id: string;
  /** Holders that start occupying their key with this claim (`scope`, `holderId`). */
  takes: { scope: string; holderId: string }[];
  /** Rate keys this start counts against. */
  hits: string[];
}

/**
 * Picks up to `limit` candidates the worker may start now, in claim order,
 * counting each admitted run against the limits before judging the next.
 */
export function admit(
  candidates: readonly FlowCandidate[],
  snapshot: FlowSnapshot,
  worker: FlowWorker,
  limit: number,
): Admission[] {
  const s: FlowSnapshot = {
    ...snapshot,
    held: new Map(snapshot.held),
    holding: new Set(snapshot.holding),
    hits: new Map([...snapshot.hits].map(([k, v]) => [k, [...v]])),
  };
  const admitted: Admission[] = [];
  for (const c of [...candidates].sort(claimOrder)) {
    if (admitted.length >= limit) break;
    if (!judge(c, s, worker).ok) continue;
    const admission: Admission = { id: c.id, takes: [], hits: [] };
    for (const hold of c.flow.holds ?? []) {
      const holding = holdKey(hold.scope, hold.holderId);
      if (s.holding.has(holding)) continue;
      s.holding.add(holding);
      s.held.set(holdKey(hold.scope, hold.key), (s.held.get(holdKey(hold.scope, hold.key)) ?? 0) + 1);
      admission.takes.push({ scope: hold.scope, holderId: hold.holderId });
    }
    for (const rate of c.flow.rates ?? []) {
      s.hits.set(rate.key, [...(s.hits.get(rate.key) ?? []), s.now]);
      admission.hits.push(rate.key);
    }
    admitted.push(admission);
  }
  return admitted;
}

/** The holders an enqueue under `cancel-in-progress` cancels (oldest first) so the new run fits. */
export function holdersToCancel(active: readonly string[], max: number): string[] {
  const excess = active.length - max + 1;
  return excess > 0 ? active.slice(0, excess) : [];
}

/** The longest rate window among the rules, for pruning old start times. */
export function longestWindow(rates: readonly FlowRate[]): number {
  return rates.reduce((m, r) => Math.max(m, r.perMs), 0);
}
