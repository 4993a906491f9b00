/**
 * The flow-control options users write on tasks and workflows (DESIGN.md
 * §2.6): their checks at definition time, and turning them into the rules
 * stored with each run at enqueue time (keys computed from the input).
 */
import { type Duration, parseDuration } from '../engine/duration.js';
import type { ConcurrencyStrategy, FlowHold, FlowKeyInfo, FlowRate, FlowSettings, RunFlow } from '../engine/flow-control.js';
import { is, type OptionCheck } from '../engine/options.js';
import { ValidationError } from '../errors.js';

export interface ConcurrencyRule<Input = unknown> {
  /** The key runs share a limit by: a constant, or computed from the input at enqueue time. */
  key: string | ((input: Input, info: FlowKeyInfo) => string);
  /** Runs of one key executing at once. Default 1. */
  max?: number;
  /**
   * `queue` (default): wait for the key. `group-round-robin`: wait, sharing free places
   * fairly between keys. `cancel-in-progress`: a new run cancels the oldest run of its key.
   * `cancel-newest`: a new run over the limit is created Cancelled (`outcome: 'rejected'`).
   */
  strategy?: ConcurrencyStrategy;
}

export interface RateLimitRule<Input = unknown> {
  /** Shared by every task that names it (namespace-wide); a constant or computed from the input. */
  key: string | ((input: Input) => string);
  /** Runs that may start in any window of length `per`. */
  limit: number;
  per: Duration;
}

export type DesiredLabel = string | { value: string; required?: boolean; weight?: number };

export interface DebounceRule<Input = unknown> {
  key: string | ((input: Input) => string);
  /** Runs start this long after the last enqueue of their key. */
  period: Duration;
  /** Start at most this long after the first enqueue of a burst, however long it goes on. */
  maxWait?: Duration;
}

/** Flow-control options shared by tasks (and, for concurrency and rate limits, workflows). */
export interface FlowOptions<Input = unknown> {
  concurrency?: ConcurrencyRule<Input> | readonly ConcurrencyRule<Input>[];
  rateLimits?: readonly RateLimitRule<Input>[];
  /** Worker labels this task needs (a bare string, or `required: true`) or prefers (by `weight`). */
  desiredLabels?: Record<string, DesiredLabel>;
  debounce?: DebounceRule<Input>;
}

const STRATEGIES: ConcurrencyStrategy[] = ['queue', 'group-round-robin', 'cancel-in-progress', 'cancel-newest'];

function keyCheck(value: unknown, path: string): string | undefined {
  if (typeof value === 'function') return undefined;
  return typeof value === 'string' && value.length > 0 && value.length <= 512 && !value.includes('\u0000')
    ? undefined
    : `${path} must be a function or a string of 1-512 characters (no NUL)`;
}

function checkObject(value: unknown, path: string, known: string[]): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${path} must be an object`;
  const unknown = Object.keys(value).find((k) => !known.includes(k));
  return unknown === undefined ? undefined : `${path}.${unknown} is not an option (known: ${known.join(', ')})`;
}

function firstProblem(...problems: (string | undefined)[]): string | undefined {
  return problems.find((p) => p !== undefined);
}

export const checkConcurrency: OptionCheck = (value, key) => {
  const rules = Array.isArray(value) ? value : [value];
  if (rules.length === 0) return `${key} must not be an empty array`;
  for (const [i, rule] of rules.entries()) {
    const path = Array.isArray(value) ? `${key}[${i}]` : key;
    const problem = checkObject(rule, path, ['key', 'max', 'strategy']);
    if (problem) return problem;
    const r = rule as Record<string, unknown>;
    const found = firstProblem(
      keyCheck(r.key, `${path}.key`),
      r.max === undefined || (Number.isInteger(r.max) && (r.max as number) >= 1 && (r.max as number) <= 100_000)
        ? undefined
        : `${path}.max must be an integer from 1 to 100000, got ${String(r.max)}`,
      r.strategy === undefined || STRATEGIES.includes(r.strategy as ConcurrencyStrategy)
        ? undefined
        : `${path}.strategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(r.strategy)}`,
    );
    if (found) return found;
  }
  return undefined;
};

const checkPositiveDuration = (value: unknown, path: string): string | undefined => is.positiveDuration(value, path);

export const checkRateLimits: OptionCheck = (value, key) => {
  if (!Array.isArray(value) || value.length === 0) return `${key} must be a non-empty array of { key, limit, per }`;
  for (const [i, rule] of value.entries()) {
    const path = `${key}[${i}]`;
    const problem = checkObject(rule, path, ['key', 'limit', 'per']);
    if (problem) return problem;
    const r = rule as Record<string, unknown>;
    const found = firstProblem(
      keyCheck(r.key, `${path}.key`),
      Number.isInteger(r.limit) && (r.limit as number) >= 1 && (r.limit as number) <= 1_000_000
        ? undefined
        : `${path}.limit must be an integer from 1 to 1000000, got ${String(r.limit)}`,
      checkPositiveDuration(r.per, `${path}.per`),
    );
    if (found) return found;
  }
  return undefined;
};

export const checkDesiredLabels: OptionCheck = (value, key) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${key} must be an object of labels`;
  for (const [name, want] of Object.entries(value)) {
    const path = `${key}.${name}`;
    if (typeof want === 'string') continue;
    const problem = checkObject(want, path, ['value', 'required', 'weight']);
    if (problem) return problem;
    const w = want as Record<string, unknown>;
    const found = firstProblem(
      typeof w.value === 'string' ? undefined : `${path}.value must be a string`,
      w.required === undefined || typeof w.required === 'boolean' ? undefined : `${path}.required must be true or false`,
      w.weight === undefined || (Number.isInteger(w.weight) && (w.weight as number) >= 0 && (w.weight as number) <= 1_000_000)
        ? undefined
        : `${path}.weight must be an integer from 0 to 1000000`,
    );
    if (found) return found;
  }
  return undefined;
};

export const checkDebounce: OptionCheck = (value, key) => {
  const problem = checkObject(value, key, ['key', 'period', 'maxWait']);
  if (problem) return problem;
  const d = value as Record<string, unknown>;
  return firstProblem(
    keyCheck(d.key, `${key}.key`),
    checkPositiveDuration(d.period, `${key}.period`),
    d.maxWait === undefined ? undefined : checkPositiveDuration(d.maxWait, `${key}.maxWait`),
  );
};

// biome-ignore lint/suspicious/noExplicitAny: options of a task of any input
export function toFlowSettings(options: FlowOptions<any>): FlowSettings | undefined {
  const rules =
    options.concurrency === undefined ? [] : Array.isArray(options.concurrency) ? options.concurrency : [options.concurrency];
  const settings: FlowSettings = {
    concurrency: (rules as ConcurrencyRule<unknown>[]).map((r) => ({
      key: r.key,
      max: r.max ?? 1,
      strategy: r.strategy ?? 'queue',
    })),
    rateLimits: (options.rateLimits ?? []).map((r) => ({ key: r.key, limit: r.limit, perMs: parseDuration(r.per) })),
    labels: Object.entries(options.desiredLabels ?? {}).map(([key, want]) =>
      typeof want === 'string'
        ? { key, value: want, required: true, weight: 0 }
        : { key, value: want.value, required: want.required ?? false, weight: want.weight ?? 100 },
    ),
    debounce: options.debounce && {
      key: options.debounce.key,
      periodMs: parseDuration(options.debounce.period),
      ...(options.debounce.maxWait === undefined ? {} : { maxWaitMs: parseDuration(options.debounce.maxWait) }),
    },
  };
  const empty =
    settings.concurrency.length === 0 && settings.rateLimits.length === 0 && settings.labels.length === 0 && !settings.debounce;
  return empty ? undefined : settings;
}

/** Calls a user's key function, turning a throw or a bad return into a ValidationError naming the rule. */
function computeKey<A extends unknown[]>(key: string | ((...args: A) => string), path: string, ...args: A): string {
  if (typeof key === 'string') return key;
  let value: unknown;
  try {
    value = key(...args);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`${path} threw: ${message}`, [{ path, message: `threw: ${message}` }]);
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > 512 || value.includes('\u0000')) {
    throw new ValidationError(`${path} must return a string of 1-512 characters (no NUL), got ${JSON.stringify(value)}`, [
      { path, message: 'must return a non-empty string' },
    ]);
  }
  return value;
}

export interface FlowTarget {
  /** Names the rules' scope: the task's or workflow's name. */
  name: string;
  /** The run that holds the concurrency keys (the run itself, or its workflow run). */
  holderId: string;
}

/** The rules stored with one run, its keys computed from its input. */
export function resolveFlow(
  settings: FlowSettings | undefined,
  target: FlowTarget,
  input: unknown,
  info: FlowKeyInfo,
  sticky?: 'soft' | 'hard',
): { flow: RunFlow | undefined; debounce: { key: string; periodMs: number; maxWaitMs?: number } | undefined } {
  if (!settings && !sticky) return { flow: undefined, debounce: undefined };
  const flow: RunFlow = {};
  if (settings?.concurrency.length) {
    flow.holds = settings.concurrency.map(
      (rule, i): FlowHold => ({
        scope: `${target.name}#${i}`,
        key: computeKey(rule.key, `${target.name}: concurrency[${i}].key`, input, info),
        max: rule.max,
        strategy: rule.strategy,
        holderId: target.holderId,
      }),
    );
  }
  if (settings?.rateLimits.length) {
    flow.rates = settings.rateLimits.map(
      (rule, i): FlowRate => ({
        key: computeKey(rule.key, `${target.name}: rateLimits[${i}].key`, input),
        limit: rule.limit,
        perMs: rule.perMs,
      }),
    );
  }
  if (settings?.labels.length) flow.labels = settings.labels;
  if (sticky) flow.sticky = sticky;
  const debounce = settings?.debounce && {
    key: computeKey(settings.debounce.key, `${target.name}: debounce.key`, input),
    periodMs: settings.debounce.periodMs,
    ...(settings.debounce.maxWaitMs === undefined ? {} : { maxWaitMs: settings.debounce.maxWaitMs }),
  };
  return { flow: Object.keys(flow).length > 0 ? flow : undefined, debounce };
}

/** Merges rules from two levels (a workflow's and its task's) into one run's rules. */
export function mergeFlows(a: RunFlow | undefined, b: RunFlow | undefined): RunFlow | undefined {
  if (!a) return b;
  if (!b) return a;
  const merged: RunFlow = {
    holds: [...(a.holds ?? []), ...(b.holds ?? [])],
    rates: [...(a.rates ?? []), ...(b.rates ?? [])],
    labels: [...(a.labels ?? []), ...(b.labels ?? [])],
  };
  const sticky = a.sticky ?? b.sticky;
  if (sticky) merged.sticky = sticky;
  return merged;
}

/** Text that changes when the rules change (part of a task's version id). */
export function flowFingerprint(settings: FlowSettings): string {
  return JSON.stringify(settings, (_key, value: unknown) => (typeof value === 'function' ? String(value) : value));
}
