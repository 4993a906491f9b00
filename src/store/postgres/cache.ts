/**
 * Task caching on PostgreSQL: the lookup locks the key's entry (or inserts it)
 * so that of identical runs racing on several workers, one computes and the
 * others wait; a completion records the output under the key.
 */
import { type CacheEntry, type CacheVerdict, decideCache } from '../../engine/cache.js';
import type { StateName } from '../../engine/types.js';
import type { CacheRequest, LeaseRef } from '../types.js';
import type { Tx } from './connection.js';

interface EntryRow {
  state: 'computing' | 'done';
  run_id: string;
  output: string | null;
  expires_at: string | null;
  owner_status: StateName | null;
}

export async function lookupCache(tx: Tx, lease: LeaseRef, request: CacheRequest): Promise<CacheVerdict | null> {
  const { t, now } = tx;
  const live = await tx.query(`SELECT 1 FROM ${t.runs} WHERE id = $1 AND lease_epoch = $2`, [lease.runId, lease.epoch]);
  if (live.rowCount === 0) return null;
  const key = [request.namespace, request.taskName, request.key];
  // The first of racing runs inserts the entry; the others find it locked, then computing.
  const inserted = await tx.query(
    `INSERT INTO ${t.cache} (namespace, task_name, cache_key, state, run_id, updated_at)
     VALUES ($1, $2, $3, 'computing', $4, $5) ON CONFLICT DO NOTHING`,
    [...key, lease.runId, now],
  );
  if (inserted.rowCount === 1) return { kind: 'compute' };
  const found = await tx.query<EntryRow>(
    `SELECT e.state, e.run_id, e.output, e.expires_at::text, r.status AS owner_status
     FROM ${t.cache} e LEFT JOIN ${t.runs} r ON r.id = e.run_id
     WHERE e.namespace = $1 AND e.task_name = $2 AND e.cache_key = $3 FOR UPDATE OF e`,
    key,
  );
  const row = found.rows[0];
  const entry: CacheEntry | undefined = row && {
    state: row.state,
    runId: row.run_id,
    output: row.output,
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    ownerStatus: row.owner_status ?? undefined,
  };
  const verdict = decideCache(entry, lease.runId, now, request.refresh);
  if (verdict.kind === 'compute') {
    await tx.query(
      `UPDATE ${t.cache} SET state = 'computing', run_id = $4, output = NULL, expires_at = NULL, updated_at = $5
       WHERE namespace = $1 AND task_name = $2 AND cache_key = $3`,
      [...key, lease.runId, now],
    );
  }
  return verdict;
}

/** A completed run's output becomes the entry of its key. */
export async function recordCacheEntry(
  tx: Tx,
  runId: string,
  output: string | null,
  cache: { namespace: string; taskName: string; key: string; expiresAt: number | null },
): Promise<void> {
  await tx.query(
    `INSERT INTO ${tx.t.cache} (namespace, task_name, cache_key, state, run_id, output, expires_at, updated_at)
     VALUES ($1, $2, $3, 'done', $4, $5, $6, $7)
     ON CONFLICT (namespace, task_name, cache_key) DO UPDATE SET state = 'done', run_id = EXCLUDED.run_id,
       output = EXCLUDED.output, expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at`,
    [cache.namespace, cache.taskName, cache.key, runId, output, cache.expiresAt, tx.now],
  );
}
