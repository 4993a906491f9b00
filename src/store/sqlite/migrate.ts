/**
 * Applies the numbered migrations in one BEGIN IMMEDIATE transaction, so
 * processes opening the same file at once apply each exactly once. A changed
 * checksum of an applied migration is a loud error.
 */
import { StorageError } from '../../errors.js';
import type { SqliteConnection } from './connection.js';
import { migrations } from './migrations.generated.js';

interface AppliedRow {
  id: number;
  name: string;
  checksum: string;
}

export async function migrateSqlite(connection: SqliteConnection): Promise<number> {
  return connection.write(() => {
    const { db } = connection;
    db.exec(`CREATE TABLE IF NOT EXISTS baton_migrations (
      id INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`);
    const applied = new Map(
      (db.prepare('SELECT id, name, checksum FROM baton_migrations').all() as AppliedRow[]).map((row) => [row.id, row]),
    );
    const latest = Math.max(0, ...applied.keys());
    const known = Math.max(0, ...migrations.map((m) => m.id));
    if (latest > known) {
      throw new StorageError(
        `the database at ${connection.path} has schema version ${latest}, newer than this Baton (${known}); upgrade Baton`,
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
      db.exec(migration.sql);
      db.prepare('INSERT INTO baton_migrations (id, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(
        migration.id,
        migration.name,
        migration.checksum,
        connection.now(),
      );
      count++;
    }
    return count;
  });
}
