/**
 * Typed context keys: `defineContextKey<T>(name, options)` gives a key whose value is
 * set for a scope (`key.with(value, fn)`), read anywhere inside it (`key.get()`),
 * stored with every run enqueued inside, and read again in that run's worker. The
 * key's options say whether child runs inherit it, whether it is redacted wherever
 * Baton shows it, and which Standard Schema validates it. Values are identified by
 * the key's name, so two keys with one name share their value.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { validateSync } from '../engine/schema.js';
import { ambientStorage, currentScope } from './ambient-store.js';
import { baggageValue } from './context-values.js';
import { withBaggageEntry } from './tracing.js';

export interface ContextKeyOptions<Value = unknown> {
  /** Child runs enqueued inside a run that has the value get it too. Default `true`. */
  inherit?: boolean;
  /**
   * Shown as "[redacted]" in logs, in `handle.contextValues()` and `ctx.contextValues`,
   * sealed in the database, and never put in OpenTelemetry baggage. Default `false`.
   */
  redact?: boolean;
  /** Validates (and may transform) each value given to `with()`; a failure throws `ValidationError`. */
  schema?: StandardSchemaV1<unknown, Value>;
}

export interface ContextKey<Value, Input = Value> {
  readonly name: string;
  readonly inherit: boolean;
  readonly redact: boolean;
  /** The value in force here: the innermost `with()` scope, else the current run's; undefined without one. */
  get(): Value | undefined;
  /** Like `get()`, but throws a TypeError naming the key when no value is in force. */
  require(): Value;
  /**
   * Runs `fn` with this key set to `value` (validated by the key's schema first).
   * Runs enqueued inside store it; inside `fn` (and in those runs) `get()` returns it.
   */
  with<R>(value: Input, fn: () => R): R;
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * Defines a typed context key.
 *
 * @example
 * const tenant = defineContextKey<string>('tenant');
 * await tenant.with('acme', () => report.enqueue(input)); // in the task: tenant.get() === 'acme'
 */
export function defineContextKey<S extends StandardSchemaV1>(
  name: string,
  options: ContextKeyOptions<StandardSchemaV1.InferOutput<S>> & { schema: S },
): ContextKey<StandardSchemaV1.InferOutput<S>, StandardSchemaV1.InferInput<S>>;
export function defineContextKey<Value>(
  name: string,
  options?: ContextKeyOptions<Value> & { schema?: undefined },
): ContextKey<Value>;
export function defineContextKey(name: string, options: ContextKeyOptions = {}): ContextKey<unknown> {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TypeError(`context key name must be 1-128 letters, digits, '_', '.' or '-', got ${JSON.stringify(name)}`);
  }
  for (const option of Object.keys(options)) {
    if (option !== 'inherit' && option !== 'redact' && option !== 'schema') {
      throw new TypeError(`defineContextKey("${name}"): unknown option "${option}" (known: inherit, redact, schema)`);
    }
  }
  const inherit = options.inherit ?? true;
  const redact = options.redact ?? false;
  const schema = options.schema;
  if (schema !== undefined && typeof schema?.['~standard']?.validate !== 'function') {
    throw new TypeError(`defineContextKey("${name}"): schema must be a Standard Schema validator`);
  }
  const key: ContextKey<unknown> = {
    name,
    inherit,
    redact,
    get() {
      const scope = currentScope();
      const entry = scope.values?.get(name);
      // A closed attempt's leftovers no longer see its run's values (as getTaskContext()).
      if (!entry || (entry.fromRun && (scope.frame === undefined || scope.frame.closed))) return undefined;
      return entry.value;
    },
    require() {
      const value = key.get();
      if (value === undefined) throw new TypeError(`context key "${name}" has no value here (set it with ${name}.with())`);
      return value;
    },
    with<R>(value: unknown, fn: () => R): R {
      const checked = validateSync(schema, value, `value of context key "${name}"`);
      const scope = currentScope();
      const values = new Map(scope.values);
      values.set(name, { value: checked, inherit, redact, fromRun: false });
      const run = () => ambientStorage.run({ ...scope, values }, fn);
      return redact ? run() : withBaggageEntry(name, baggageValue(checked), run);
    },
  };
  return Object.freeze(key);
}
