/**
 * Every setting Baton reads from profile files and `BATON_*` variables: its key, its
 * environment variable, its kind of value and its default, plus the typed `Settings`
 * object built from them and its redacted, printable form. Pure data: no I/O.
 */
import { DEFAULT_LIMITS, type PayloadLimits } from '../engine/limits.js';
import type { LogLevelSetting } from '../logger.js';
import { DEFAULT_SQLITE_PATH, redact } from '../store/open-store.js';
import { duration, integer, oneOf, type SettingValue, text, type ValueKind } from './setting-values.js';

/** Settings a worker takes when its own option is absent. Durations in milliseconds. */
export interface WorkerDefaults {
  /** Runs executing at once. Default 10 (`BATON_WORKER_SLOTS`). */
  readonly slots: number;
  /** Lease on each claimed run, in ms. Default 30 000 (`BATON_WORKER_LEASE`). */
  readonly lease: number;
  /** Idle poll interval in ms; `undefined` = the backend's (100 ms SQLite, 1 s PostgreSQL). */
  readonly pollInterval: number | undefined;
}

/** Settings of `baton serve` / `baton dev` and `baton.http()`. */
export interface HttpSettings {
  /** Default 8400 (`BATON_HTTP_PORT`). */
  readonly port: number;
  /** Default `127.0.0.1` (`BATON_HTTP_HOST`). */
  readonly host: string;
  /** Bearer token the API requires; `undefined` = none (`BATON_TOKEN`). Redacted when printed. */
  readonly token: string | undefined;
}

/**
 * Baton's typed settings, layered: defaults < profile files < `BATON_*` environment
 * (the profile may win instead; see `loadSettings`). Explicit `new Baton({ … })`
 * options win over all of them. Frozen; printing it (`console.log`, `JSON.stringify`)
 * hides the token and a database password.
 */
export interface Settings {
  /** Where runs are stored, as `new Baton({ database })`. Default `./.baton/baton.db`. */
  readonly database: string;
  /** PostgreSQL schema of Baton's tables. Default `baton`. */
  readonly schema: string;
  /** Default `default`. */
  readonly namespace: string;
  /** Level of the process logger. Default `info`. */
  readonly logLevel: LogLevelSetting;
  readonly worker: WorkerDefaults;
  /** Payload size limits in bytes; 0 disables one. */
  readonly limits: Readonly<PayloadLimits>;
  readonly http: HttpSettings;
}

export interface SettingSpec {
  /** The environment variable that sets it. */
  readonly env: string;
  readonly kind: ValueKind;
  readonly default: SettingValue;
}

const limit = integer(0, 2 ** 31 - 1);

/** The settings, by dotted key (`worker.slots`), in the order they are documented. */
export const SETTINGS = {
  database: { env: 'BATON_DATABASE_URL', kind: text('a database URL or path'), default: DEFAULT_SQLITE_PATH },
  schema: {
    env: 'BATON_SCHEMA',
    kind: text('a lower-case SQL identifier', (v) =>
      /^[a-z_][a-z0-9_]{0,62}$/.test(v) ? undefined : `must be a lower-case SQL identifier, got ${JSON.stringify(v)}`,
    ),
    default: 'baton',
  },
  namespace: {
    env: 'BATON_NAMESPACE',
    kind: text('a name', (v) =>
      /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/.test(v)
        ? undefined
        : `must be 1-200 characters of letters, digits and . _ : / - (starting with a letter or digit), got ${JSON.stringify(v)}`,
    ),
    default: 'default',
  },
  logLevel: { env: 'BATON_LOG_LEVEL', kind: oneOf('debug', 'info', 'warn', 'error', 'silent'), default: 'info' },
  'worker.slots': { env: 'BATON_WORKER_SLOTS', kind: integer(1, 10_000), default: 10 },
  'worker.lease': { env: 'BATON_WORKER_LEASE', kind: duration(300), default: 30_000 },
  'worker.pollInterval': { env: 'BATON_WORKER_POLL_INTERVAL', kind: duration(1), default: undefined },
  'limits.input': { env: 'BATON_LIMITS_INPUT', kind: limit, default: DEFAULT_LIMITS.input },
  'limits.output': { env: 'BATON_LIMITS_OUTPUT', kind: limit, default: DEFAULT_LIMITS.output },
  'limits.event': { env: 'BATON_LIMITS_EVENT', kind: limit, default: DEFAULT_LIMITS.event },
  'limits.streamChunk': { env: 'BATON_LIMITS_STREAM_CHUNK', kind: limit, default: DEFAULT_LIMITS.streamChunk },
  'http.port': { env: 'BATON_HTTP_PORT', kind: integer(1, 65_535), default: 8400 },
  'http.host': { env: 'BATON_HTTP_HOST', kind: text('a host name or address'), default: '127.0.0.1' },
  'http.token': { env: 'BATON_TOKEN', kind: text('a non-empty token'), default: undefined },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** Keys that group settings in a file: `{ "worker": { "slots": 4 } }`. */
export const SETTING_GROUPS = ['worker', 'limits', 'http'] as const;

/** Variables that are Baton's but not settings: they say where to look, not what to use. */
export const LOCATION_VARIABLES = ['BATON_HOME', 'BATON_PROFILE'] as const;

export type SettingValues = Record<SettingKey, SettingValue>;

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** Builds the frozen, typed settings from one value per key. */
export function toSettings(values: SettingValues): Settings {
  const v = values as Record<SettingKey, never>;
  const settings: Settings = {
    database: v.database,
    schema: v.schema,
    namespace: v.namespace,
    logLevel: v.logLevel,
    worker: Object.freeze({ slots: v['worker.slots'], lease: v['worker.lease'], pollInterval: v['worker.pollInterval'] }),
    limits: Object.freeze({
      input: v['limits.input'],
      output: v['limits.output'],
      event: v['limits.event'],
      streamChunk: v['limits.streamChunk'],
    }),
    http: Object.freeze({ port: v['http.port'], host: v['http.host'], token: v['http.token'] }),
  };
  // Printing a Settings object (logs, `baton doctor`, a test failure) must never show the token.
  Object.defineProperty(settings, 'toJSON', { value: () => redactSettings(settings) });
  Object.defineProperty(settings, INSPECT, { value: () => redactSettings(settings) });
  return Object.freeze(settings);
}

/** A plain copy for printing: the token and a database password replaced by `***`. */
export function redactSettings(settings: Settings): Record<string, unknown> {
  return {
    ...settings,
    database: redact(settings.database),
    worker: { ...settings.worker },
    limits: { ...settings.limits },
    http: { ...settings.http, token: settings.http.token === undefined ? undefined : '***' },
  };
}

export const DEFAULT_SETTINGS: Settings = toSettings(
  Object.fromEntries(SETTING_KEYS.map((key) => [key, SETTINGS[key].default])) as SettingValues,
);
