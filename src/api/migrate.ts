/** `migrate()`: apply Baton's schema migrations ahead of time (e.g. in a deploy step). */
import { systemClock } from '../clock/clock.js';
import { migrateDatabase, parseDatabase } from '../store/open-store.js';
import { resolveBatonOptions } from './baton-options.js';

export interface MigrateOptions {
  /** As in `new Baton({ database })`; default `BATON_DATABASE_URL`, else `./.baton/baton.db`. */
  database?: string;
  /** PostgreSQL schema; default `baton` (or `BATON_SCHEMA`). */
  schema?: string;
}

/**
 * Applies pending migrations and returns how many were applied. Safe to run from
 * several processes at once (PostgreSQL takes an advisory lock, SQLite a write lock).
 * Opening a Baton migrates too; this is for teams that migrate in a deploy step.
 */
export async function migrate(options: MigrateOptions = {}): Promise<{ applied: number }> {
  const resolved = resolveBatonOptions(options);
  const applied = await migrateDatabase(parseDatabase(resolved.database), {
    clock: systemClock,
    isClockInjected: false,
    schema: resolved.schema,
  });
  return { applied };
}
