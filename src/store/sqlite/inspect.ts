/** `baton doctor` on SQLite: whether the file exists and which migrations it has, read-only (nothing is created or migrated). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { DatabaseReport } from '../open-store.js';
import { storageError } from './connection.js';
import { migrations } from './migrations.generated.js';

export function inspectSqlite(target: string): DatabaseReport {
  const known = migrations.map((m) => ({ id: m.id, name: m.name, checksum: m.checksum }));
  const path = target === ':memory:' ? target : resolve(target);
  if (path === ':memory:' || !existsSync(path)) return { exists: false, applied: [], known };
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const hasTable = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'baton_migrations'`).get();
    const applied = hasTable
      ? (db.prepare('SELECT id, checksum FROM baton_migrations ORDER BY id').all() as { id: number; checksum: string }[])
      : [];
    return { exists: true, applied, known };
  } catch (error) {
    throw storageError(error, path);
  } finally {
    db?.close();
  }
}
