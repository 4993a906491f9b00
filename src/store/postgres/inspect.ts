/**
 * `baton doctor` on PostgreSQL: reachability, the schema's migrations and the
 * database clock against this machine's, read-only (nothing is created or migrated).
 */
import type { DatabaseReport } from '../open-store.js';
import { baseConfig, describeLocation, loadPg, quoteIdent, toStorageError } from './connection.js';
import { migrations } from './migrations.generated.js';

export async function inspectPostgres(url: string, schema: string): Promise<DatabaseReport> {
  const known = migrations.map((m) => ({ id: m.id, name: m.name, checksum: m.checksum }));
  const pg = await loadPg();
  const client = new pg.Client({ ...baseConfig(pg, url), connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    // The clock: the database's time against the midpoint of the round trip.
    const sent = Date.now();
    const clock = await client.query<{ now: string }>(
      `SELECT (extract(epoch from clock_timestamp()) * 1000)::float8::text AS now`,
    );
    const received = Date.now();
    const table = await client.query<{ name: string | null }>('SELECT to_regclass($1)::text AS name', [
      `${quoteIdent(schema)}.baton_migrations`,
    ]);
    const applied = table.rows[0]?.name
      ? (
          await client.query<{ id: number; checksum: string }>(
            `SELECT id, checksum FROM ${quoteIdent(schema)}.baton_migrations ORDER BY id`,
          )
        ).rows
      : [];
    return {
      exists: true,
      applied,
      known,
      clockSkewMs: Number(clock.rows[0]?.now) - (sent + received) / 2,
      roundTripMs: received - sent,
    };
  } catch (error) {
    throw toStorageError(error, describeLocation(url));
  } finally {
    await client.end().catch(() => undefined);
  }
}
