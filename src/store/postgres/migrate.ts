/**
 * Applies the numbered migrations in one transaction under a transaction-level
 * advisory lock (one per schema), so processes starting at once apply each
 * exactly once; the others wait, then find nothing left to do. A changed
 * checksum of an applied migration is a loud error. Also used by `baton migrate`.
 */
import type { Client } from 'pg';
import { StorageError } from '../../errors.js';
import { baseConfig, describeLocation, loadPg, quoteIdent, toStorageError } from './connection.js';
import { type Migration, migrations } from './migrations.generated.js';

export const DEFAULT_SCHEMA = 'baton';

export interface MigrateOptions {
  /** Schema for Baton's tables (default `baton`). */
  schema?: string;
}

interface AppliedRow {
  id: number;
  name: string;
  checksum: string;
}

/** Connects, migrates `schema` and disconnects; returns how many migrations were applied. */
export async function migratePostgres(url: string, options: MigrateOptions = {}): Promise<number> {
  const pg = await loadPg();
  const client = new pg.Client(baseConfig(pg, url));
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await migrateWithClient(client, options.schema ?? DEFAULT_SCHEMA, describeLocation(url));
  } catch (error) {
    throw toStorageError(error, describeLocation(url));
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The SQL `migratePostgres` would run for `schema` (for teams that apply migrations themselves). */
export function migrationSql(options: MigrateOptions = {}): string {
  const schema = quoteIdent(options.schema ?? DEFAULT_SCHEMA);
  const parts = [
    `CREATE SCHEMA IF NOT EXISTS ${schema};`,
    `SET search_path TO ${schema};`,
    BOOKKEEPING_SQL,
    ...migrations.map(
      (m: Migration) =>
        `-- ${m.id}_${m.name}\n${m.sql}\nINSERT INTO baton_migrations (id, name, checksum, applied_at) VALUES (${m.id}, '${m.name}', '${m.checksum}', (extract(epoch from clock_timestamp()) * 1000)::bigint);`,
    ),
  ];
  return `${parts.join('\n')}\n`;
}

const BOOKKEEPING_SQL = `CREATE TABLE IF NOT EXISTS baton_migrations (
  id integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at bigint NOT NULL);`;

export async function migrateWithClient(client: Client, schema: string, location: string): Promise<number> {
  const quoted = quoteIdent(schema);
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`baton.migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await client.query(`SET LOCAL search_path TO ${quoted}`);
    await client.query(BOOKKEEPING_SQL);
    const applied = new Map(
      (await client.query<AppliedRow>('SELECT id, name, checksum FROM baton_migrations')).rows.map((row) => [row.id, row]),
    );
    const latest = Math.max(0, ...applied.keys());
    const known = Math.max(0, ...migrations.map((m) => m.id));
    if (latest > known) {
      throw new StorageError(
        `the schema ${schema} at ${location} has version ${latest}, newer than this Baton (${known}); upgrade Baton`,
        { retryable: false },
      );
    }
    let count = 0;
    for (const migration of migrations) {
      const row = applied.get(migration.id);
      if (row) {
        if (row.checksum !== migration.checksum) {
          throw new StorageError(
            `migration ${migration.id}_${migration.name} was changed after it was applied (checksum ${row.checksum} in the database, ${migration.checksum} in this build)`,
            { retryable: false },
          );
        }
        continue;
      }
      await client.query(migration.sql);
      await client.query(
        `INSERT INTO baton_migrations (id, name, checksum, applied_at)
         VALUES ($1, $2, $3, (extract(epoch from clock_timestamp()) * 1000)::bigint)`,
        [migration.id, migration.name, migration.checksum],
      );
      count++;
    }
    await client.query('COMMIT');
    return count;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
