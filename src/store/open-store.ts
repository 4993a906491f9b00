/**
 * The one factory that picks a backend from the `database` setting:
 * `postgres://…` / `postgresql://…` → PostgreSQL; `sqlite:path`, a path or
 * `:memory:` → SQLite. Backends are imported lazily so `pg` is only loaded
 * when asked for.
 */
import type { Clock } from '../clock/clock.js';
import { ValidationError } from '../errors.js';
import type { Store } from './types.js';

export const DEFAULT_SQLITE_PATH = './.baton/baton.db';

export interface StoreLocation {
  kind: 'sqlite' | 'postgres';
  /** File path for SQLite, connection string for PostgreSQL. */
  target: string;
}

export function parseDatabase(database: string): StoreLocation {
  const value = database.trim();
  if (value === '') throw new ValidationError('database must not be empty', [{ path: 'database', message: 'empty' }]);
  if (/^postgres(ql)?:\/\//i.test(value)) return { kind: 'postgres', target: value };
  if (value.startsWith('sqlite://')) return { kind: 'sqlite', target: value.slice('sqlite://'.length) || ':memory:' };
  if (value.startsWith('sqlite:')) return { kind: 'sqlite', target: value.slice('sqlite:'.length) || ':memory:' };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new ValidationError(
      `database ${JSON.stringify(redact(value))} has an unsupported scheme; use postgres://…, sqlite:path, a file path or :memory:`,
      [{ path: 'database', message: 'unsupported scheme' }],
    );
  }
  return { kind: 'sqlite', target: value };
}

export interface OpenStoreOptions {
  clock: Clock;
  /** Whether `clock` was injected (tests) rather than the system clock. */
  isClockInjected: boolean;
  /** PostgreSQL schema for Baton's tables. */
  schema?: string;
  /** PostgreSQL pool size. */
  poolSize?: number;
}

export async function openStore(location: StoreLocation, options: OpenStoreOptions): Promise<Store> {
  if (location.kind === 'sqlite') {
    const { SqliteStore } = await import('./sqlite/sqlite-store.js');
    return SqliteStore.open(location.target, options.clock);
  }
  const { PostgresStore } = await import('./postgres/postgres-store.js');
  return PostgresStore.open(location.target, options);
}

/** A connection string with its password hidden, for messages. */
export function redact(database: string): string {
  return database.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

/** Applies pending migrations without opening a full store; returns how many were applied. */
export async function migrateDatabase(location: StoreLocation, options: OpenStoreOptions): Promise<number> {
  if (location.kind === 'sqlite') {
    const { SqliteConnection } = await import('./sqlite/connection.js');
    const { migrateSqlite } = await import('./sqlite/migrate.js');
    const connection = new SqliteConnection(location.target, options.clock);
    try {
      return await migrateSqlite(connection);
    } finally {
      connection.close();
    }
  }
  const { migratePostgres } = await import('./postgres/migrate.js');
  return migratePostgres(location.target, options.schema === undefined ? {} : { schema: options.schema });
}

/** What `baton doctor` learns about a database without changing it (no migration is applied). */
export interface DatabaseReport {
  /** False when the SQLite file does not exist yet (nothing else is then known). */
  exists: boolean;
  /** Migrations recorded in the database. */
  applied: { id: number; checksum: string }[];
  /** Migrations this build of Baton knows. */
  known: { id: number; name: string; checksum: string }[];
  /** PostgreSQL: the database clock minus this machine's at the same moment, in ms (half the round trip is the error). */
  clockSkewMs?: number;
  roundTripMs?: number;
}

/** Connects read-only and reports the database's migrations (and PostgreSQL's clock); throws StorageError when unreachable. */
export async function inspectDatabase(location: StoreLocation, options: { schema?: string } = {}): Promise<DatabaseReport> {
  if (location.kind === 'sqlite') {
    const { inspectSqlite } = await import('./sqlite/inspect.js');
    return inspectSqlite(location.target);
  }
  const { inspectPostgres } = await import('./postgres/inspect.js');
  return inspectPostgres(location.target, options.schema ?? 'baton');
}
