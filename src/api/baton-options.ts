/**
 * `new Baton(options)`: the options, their checks and their defaults. An explicit
 * option wins; otherwise the value comes from the settings layer (`BATON_*` variables,
 * the active profile, then the built-in defaults; see settings/load-settings.ts).
 */
import { type Clock, shiftedClock, systemClock } from '../clock/clock.js';
import { type Duration, parseDuration } from '../engine/duration.js';
import { DEFAULT_LIMITS, type PayloadLimits } from '../engine/limits.js';
import { checkOptions, is } from '../engine/options.js';
import type { Logger, LogLevelSetting } from '../logger.js';
import { type LoadedSettings, loadSettings } from '../settings/load-settings.js';
import type { WorkerDefaults } from '../settings/settings-schema.js';

export interface BatonOptions {
  /**
   * Where runs are stored: `postgres://…`, `sqlite:path`, a file path or `:memory:`.
   * Default: `BATON_DATABASE_URL`, else the active profile's, else `./.baton/baton.db`.
   */
  database?: string;
  /** PostgreSQL schema for Baton's tables. Default `BATON_SCHEMA`, the profile's, or `baton`. */
  schema?: string;
  /** PostgreSQL connections this instance may open (its pool; LISTEN uses one more). Default 10. */
  poolSize?: number;
  /** Runs, names and keys are separate per namespace. Default `BATON_NAMESPACE`, the profile's, or `default`. */
  namespace?: string;
  /**
   * Time source for every due-time. Default: the system clock. Test-only: without this option,
   * `BATON_TEST_CLOCK_OFFSET_MS` shifts the system clock by that many ms, to act as a machine
   * whose clock is off (RELIABILITY.md #27). That is not an injected clock: on PostgreSQL the
   * database's now() still decides leases and due-times.
   */
  clock?: Clock;
  logger?: Logger;
  /** Level of the process logger when `logger` is not given. Default `BATON_LOG_LEVEL`, the profile's, or `info`. */
  logLevel?: LogLevelSetting;
  /** How often expired leases and schedule timeouts are swept. Default `5s`. */
  sweepInterval?: Duration;
  /** How long an idempotency key returns its first run. Default `24h`. */
  idempotencyWindow?: Duration;
  /** Payload size limits in bytes (input, output, event, streamChunk). Default `BATON_LIMITS_*`, the profile's, or 4 MiB, 4 MiB, 1 MiB, 256 KiB. */
  limits?: Partial<PayloadLimits>;
  /** Root folder of `ctx.rawDataPath`. Default `./.baton/raw`. */
  rawDataRoot?: string;
}

export interface ResolvedBatonOptions {
  database: string;
  schema: string;
  poolSize: number | undefined;
  namespace: string;
  clock: Clock;
  isClockInjected: boolean;
  logger: Logger | undefined;
  logLevel: LogLevelSetting;
  sweepIntervalMs: number;
  idempotencyWindowMs: number;
  limits: PayloadLimits;
  rawDataRoot: string;
  /** What a worker uses when its own `slots`, `lease` or `pollInterval` is absent. */
  workerDefaults: WorkerDefaults;
  /** The settings as loaded (with their sources and typo warnings), for HTTP and the CLI. */
  settings: LoadedSettings;
}

const limitCheck = (value: unknown, key: string) => {
  if (typeof value !== 'object' || value === null) return `${key} must be an object`;
  for (const [k, v] of Object.entries(value)) {
    if (!(k in DEFAULT_LIMITS)) return `${key}.${k} is not a limit (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})`;
    if (!Number.isInteger(v) || (v as number) < 0) return `${key}.${k} must be a whole number of bytes (0 = no limit)`;
  }
  return undefined;
};

/** The test-only skewed system clock of `BATON_TEST_CLOCK_OFFSET_MS` (see `BatonOptions.clock`). */
function skewedSystemClock(): Clock | undefined {
  const text = process.env.BATON_TEST_CLOCK_OFFSET_MS?.trim();
  if (!text) return undefined;
  const offsetMs = Number(text);
  if (!Number.isFinite(offsetMs))
    throw new TypeError(`BATON_TEST_CLOCK_OFFSET_MS must be a number of milliseconds, got ${JSON.stringify(text)}`);
  return offsetMs === 0 ? undefined : shiftedClock(systemClock, offsetMs);
}

export function resolveBatonOptions(options: BatonOptions = {}): ResolvedBatonOptions {
  checkOptions('Baton options', options, {
    database: is.string,
    schema: (v, k) =>
      typeof v === 'string' && /^[a-z_][a-z0-9_]{0,62}$/.test(v) ? undefined : `${k} must be a lower-case SQL identifier`,
    poolSize: is.integer(1, 1000),
    namespace: is.name,
    clock: (v, k) =>
      typeof v === 'object' &&
      v !== null &&
      typeof (v as Clock).now === 'function' &&
      typeof (v as Clock).setTimeout === 'function'
        ? undefined
        : `${k} must be a Clock (now() and setTimeout())`,
    logger: (v, k) =>
      typeof v === 'object' && v !== null && typeof (v as Logger).info === 'function' ? undefined : `${k} must be a logger`,
    logLevel: is.oneOf('debug', 'info', 'warn', 'error', 'silent'),
    sweepInterval: is.positiveDuration,
    idempotencyWindow: is.positiveDuration,
    limits: limitCheck,
    rawDataRoot: is.string,
  });
  const loaded = loadSettings();
  const { settings } = loaded;
  return {
    database: options.database ?? settings.database,
    schema: options.schema ?? settings.schema,
    poolSize: options.poolSize,
    namespace: options.namespace ?? settings.namespace,
    clock: options.clock ?? skewedSystemClock() ?? systemClock,
    isClockInjected: options.clock !== undefined,
    logger: options.logger,
    logLevel: options.logLevel ?? settings.logLevel,
    sweepIntervalMs: parseDuration(options.sweepInterval ?? '5s'),
    idempotencyWindowMs: parseDuration(options.idempotencyWindow ?? '24h'),
    limits: { ...settings.limits, ...(options.limits ?? {}) },
    rawDataRoot: options.rawDataRoot ?? './.baton/raw',
    workerDefaults: settings.worker,
    settings: loaded,
  };
}
