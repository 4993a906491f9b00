/** Task caching on SQLite: the lookup (write transactions are exclusive, so it is atomic) and the entry a completion records. */
import { type CacheEntry, type CacheVerdict, decideCache } from '../../engine/cache.js';
import type { StateName } from '../../engine/types.js';
import type { CacheRequest, LeaseRef } from '../types.js';
import type { SqliteConnection } from './connection.js';

interface EntryRow {
  state: 'computing' | 'done';
  run_id: string;
  output: string | null;
  expires_at: number | null;
  owner_status: StateName | null;
}

export function lookupCache(c: SqliteConnection, lease: LeaseRef, request: CacheRequest): CacheVerdict | null {
  const isLive = c.stmt('SELECT 1 FROM runs WHERE id = ? AND lease_epoch = ?').get(lease.runId, lease.epoch);
  if (!isLive) return null;
  const row = c
    .stmt(`SELECT e.state, e.run_id, e.output, e.expires_at, r.status AS owner_status
      FROM cache_entries e LEFT JOIN runs r ON r.id = e.run_id
      WHERE e.namespace = ? AND e.task_name = ? AND e.cache_key = ?`)
    .get(request.namespace, request.taskName, request.key) as EntryRow | undefined;
  const entry: CacheEntry | undefined = row && {
    state: row.state,
    runId: row.run_id,
    output: row.output,
    expiresAt: row.expires_at,
    ownerStatus: row.owner_status ?? undefined,
  };
  const verdict = decideCache(entry, lease.runId, c.now(), request.refresh);
  if (verdict.kind === 'compute') {
    c.stmt(`INSERT INTO cache_entries (namespace, task_name, cache_key, state, run_id, output, expires_at, updated_at)
      VALUES (?, ?, ?, 'computing', ?, NULL, NULL, ?)
      ON CONFLICT (namespace, task_name, cache_key) DO UPDATE SET state = 'computing', run_id = excluded.run_id,
        output = NULL, expires_at = NULL, updated_at = excluded.updated_at`).run(
      request.namespace,
      request.taskName,
      request.key,
      lease.runId,
      c.now(),
    );
  }
  return verdict;
}

/** A completed run's output becomes the entry of its key. */
export function recordCacheEntry(
  c: SqliteConnection,
  runId: string,
  output: string | null,
  cache: { namespace: string; taskName: string; key: string; expiresAt: number | null },
  now: number,
): void {
  c.stmt(`INSERT INTO cache_entries (namespace, task_name, cache_key, state, run_id, output, expires_at, updated_at)
    VALUES (?, ?, ?, 'done', ?, ?, ?, ?)
    ON CONFLICT (namespace, task_name, cache_key) DO UPDATE SET state = 'done', run_id = excluded.run_id,
      output = excluded.output, expires_at = excluded.expires_at, updated_at = excluded.updated_at`).run(
    cache.namespace,
    cache.taskName,
    cache.key,
    runId,
    output,
    cache.expiresAt,
    now,
  );
}
