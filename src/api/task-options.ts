/**
 * `baton.task(options, fn)`: the options users write, their checks (unknown keys
 * and bad values throw at definition time, naming the key) and their
 * normalization into the worker's TaskDefinition.
 */
import { createHash } from 'node:crypto';
import type { TaskContext } from '../context/task-context.js';
import { type Duration, parseDuration } from '../engine/duration.js';
import { checkOptions, is } from '../engine/options.js';
import { DEFAULT_RETRY_POLICY, type RetryDelaySetting } from '../engine/retry-policy.js';
import type { Schema } from '../engine/schema.js';
import { ValidationError } from '../errors.js';
import type { TaskDefinition, TaskHooks } from '../worker/task-definition.js';
import {
  checkConcurrency,
  checkDebounce,
  checkDesiredLabels,
  checkRateLimits,
  type FlowOptions,
  flowFingerprint,
  toFlowSettings,
} from './flow-options.js';

export interface TaskOptions<Input = unknown, Output = unknown> extends FlowOptions<Input> {
  /** Unique per namespace: letters, digits and . _ : / - */
  name: string;
  description?: string;
  /** Any Standard Schema validator; invalid input is rejected before a run exists. */
  input?: Schema<unknown, Input>;
  /** Any Standard Schema validator; invalid output fails the run. */
  output?: Schema<unknown, Output>;
  /** Retries after the first attempt. Default 0. */
  retries?: number;
  /** Base delay before a retry (ms or duration), one per retry, or a function of the failed attempt. Default `1s`. */
  retryDelay?: Duration | readonly Duration[] | ((attempt: number, error: Error) => number);
  /** Multiplier per retry for a single `retryDelay`. Default 2. */
  backoff?: number;
  /** Cap on any retry delay. Default `5m`. */
  maxRetryDelay?: Duration;
  /** 0..1: spread each delay over ±jitter of itself. Default 0. */
  retryJitter?: number;
  /** Retry only when this returns true. `NonRetryableError` never retries. */
  retryIf?: (error: Error, ctx: TaskContext<Input>) => boolean | Promise<boolean>;
  /** Execution timeout of one attempt; `ctx.refreshTimeout` extends it. */
  timeout?: Duration;
  /** How long a run may wait for a worker before it ends TimedOut. */
  scheduleTimeout?: Duration;
  /** Default priority, 1 (low) to 4 (high). Default 1. */
  priority?: number;
  /** Worker crashes (expired leases) a run survives; the next one ends it Crashed. Default 3. */
  maxCrashes?: number;
  /** After a cancellation request, how long the attempt may take to stop before it is abandoned. Default `10s`. */
  cancelGracePeriod?: Duration;
  hooks?: TaskHooks<Input, Output>;
  /**
   * Reuse a completed run's output for runs with the same key: `'inputs'` (the task, its
   * version and the input), a function of the input and context, or `'none'`. A hit ends
   * the run `Cached` without executing it; identical runs at once compute once.
   */
  cache?: {
    key: 'inputs' | 'none' | ((input: Input, ctx: TaskContext<Input>) => string | Promise<string>);
    /** How long an output stays reusable. Default: forever. */
    ttl?: Duration;
    /** Compute anyway and replace the stored output. */
    refresh?: boolean;
  };
}

const HOOK_NAMES = ['onRunning', 'onCompletion', 'onFailure', 'onRetry', 'onCancellation', 'onCrashed', 'onRollback', 'onCommit'];

export function checkTaskOptions(options: unknown): void {
  checkOptions('task options', options, {
    name: is.name,
    description: is.string,
    input: is.schema,
    output: is.schema,
    retries: is.integer(0, 1000),
    retryDelay: (v, k) => {
      if (typeof v === 'function') return undefined;
      if (Array.isArray(v)) {
        if (v.length === 0) return `${k} must not be an empty array`;
        for (const [i, item] of v.entries()) {
          const problem = is.duration(item, `${k}[${i}]`);
          if (problem) return problem;
        }
        return undefined;
      }
      return is.duration(v, k);
    },
    backoff: is.number(1, 100),
    maxRetryDelay: is.duration,
    retryJitter: is.number(0, 1),
    retryIf: is.function,
    timeout: is.positiveDuration,
    scheduleTimeout: is.positiveDuration,
    priority: is.integer(1, 4),
    maxCrashes: is.integer(0, 1000),
    cancelGracePeriod: is.duration,
    cache: (v, k) => {
      if (typeof v !== 'object' || v === null) return `${k} must be an object { key, ttl?, refresh? }`;
      const c = v as Record<string, unknown>;
      const unknownKey = Object.keys(c).find((name) => !['key', 'ttl', 'refresh'].includes(name));
      if (unknownKey) return `${k}.${unknownKey} is not an option (known: key, ttl, refresh)`;
      if (c.key !== 'inputs' && c.key !== 'none' && typeof c.key !== 'function') {
        return `${k}.key must be 'inputs', 'none' or a function, got ${JSON.stringify(c.key)}`;
      }
      if (c.refresh !== undefined && typeof c.refresh !== 'boolean') return `${k}.refresh must be true or false`;
      return c.ttl === undefined ? undefined : is.positiveDuration(c.ttl, `${k}.ttl`);
    },
    concurrency: checkConcurrency,
    rateLimits: checkRateLimits,
    desiredLabels: checkDesiredLabels,
    debounce: checkDebounce,
    hooks: (v, k) => {
      if (typeof v !== 'object' || v === null) return `${k} must be an object of hook functions`;
      for (const [name, fn] of Object.entries(v)) {
        if (!HOOK_NAMES.includes(name)) return `${k}.${name} is not a hook (known: ${HOOK_NAMES.join(', ')})`;
        if (typeof fn !== 'function') return `${k}.${name} must be a function`;
      }
      return undefined;
    },
  });
  if ((options as { name?: unknown }).name === undefined) {
    throw new ValidationError('task options: name is required', [{ path: 'name', message: 'required' }]);
  }
}

export function toTaskDefinition(
  namespace: string,
  // biome-ignore lint/suspicious/noExplicitAny: options of a task of any input and output
  options: TaskOptions<any, any>,
  fn: TaskDefinition['fn'],
): TaskDefinition {
  const retryDelay: RetryDelaySetting =
    typeof options.retryDelay === 'function'
      ? options.retryDelay
      : Array.isArray(options.retryDelay)
        ? options.retryDelay.map((d, i) => parseDuration(d, `retryDelay[${i}]`))
        : options.retryDelay === undefined
          ? DEFAULT_RETRY_POLICY.retryDelay
          : parseDuration(options.retryDelay as Duration, 'retryDelay');
  const definition: Omit<TaskDefinition, 'version'> = {
    name: options.name,
    kind: 'task',
    workflowId: stableId('workflow', namespace, options.name),
    queueKey: options.name,
    workflow: undefined,
    isDurable: false,
    fn,
    inputSchema: options.input,
    outputSchema: options.output,
    retryPolicy: {
      retries: options.retries ?? DEFAULT_RETRY_POLICY.retries,
      retryDelay,
      backoff: options.backoff ?? DEFAULT_RETRY_POLICY.backoff,
      maxRetryDelay:
        options.maxRetryDelay === undefined ? DEFAULT_RETRY_POLICY.maxRetryDelay : parseDuration(options.maxRetryDelay),
      retryJitter: options.retryJitter ?? DEFAULT_RETRY_POLICY.retryJitter,
    },
    retryIf: options.retryIf as TaskDefinition['retryIf'],
    timeoutMs: options.timeout === undefined ? undefined : parseDuration(options.timeout),
    scheduleTimeoutMs: options.scheduleTimeout === undefined ? undefined : parseDuration(options.scheduleTimeout),
    priority: options.priority ?? 1,
    maxCrashes: options.maxCrashes ?? 3,
    cancelGraceMs: parseDuration(options.cancelGracePeriod ?? '10s'),
    hooks: options.hooks ?? {},
    flow: toFlowSettings(options),
    cache:
      options.cache === undefined || options.cache.key === 'none'
        ? undefined
        : {
            key: options.cache.key,
            ttlMs: options.cache.ttl === undefined ? undefined : parseDuration(options.cache.ttl),
            refresh: options.cache.refresh ?? false,
          },
  };
  return { ...definition, version: versionOf(definition) };
}

/** A version id that changes when the task's code or settings change. */
function versionOf(definition: Omit<TaskDefinition, 'version'>): string {
  const hash = createHash('sha256');
  hash.update(definition.name);
  hash.update(String(definition.fn));
  hash.update(JSON.stringify({ ...definition.retryPolicy, retryDelay: String(definition.retryPolicy.retryDelay) }));
  hash.update(String(definition.retryIf ?? ''));
  hash.update(JSON.stringify([definition.timeoutMs, definition.scheduleTimeoutMs, definition.priority, definition.maxCrashes]));
  if (definition.flow) hash.update(flowFingerprint(definition.flow));
  return formatUuid(hash.digest());
}

/** A UUID-shaped id derived from its parts (the same parts always give the same id). */
export function stableId(...parts: string[]): string {
  return formatUuid(createHash('sha256').update(parts.join('\u0000')).digest());
}

function formatUuid(digest: Buffer): string {
  const bytes = Buffer.from(digest.subarray(0, 16));
  bytes[6] = 0x80 | ((bytes[6] ?? 0) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The JSON Schema of a Standard Schema validator, when it offers one. */
export function jsonSchemaOf(schema: Schema | undefined): unknown | null {
  const converter = (schema?.['~standard'] as { jsonSchema?: { input?: (o: { target: string }) => unknown } } | undefined)
    ?.jsonSchema;
  if (!converter?.input) return null;
  try {
    return converter.input({ target: 'draft-2020-12' });
  } catch {
    return null;
  }
}
