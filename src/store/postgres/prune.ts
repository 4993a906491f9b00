/**
 * Retention on PostgreSQL (DESIGN.md §4): deletes root runs that ended before a
 * cutoff together with everything recorded for them — states, attempts, logs,
 * stream chunks, steps, event waits, idempotency keys — and their whole tree
 * (a workflow run's tasks, child runs, their children). A tree with any run
 * that is not terminal is kept whole. Each batch is one transaction that locks
 * the tree's rows first, so a concurrent retry or cancel either happens before
 * (and the tree is kept) or finds the run gone.
 */
import { TERMINAL_STATES } from '../../engine/states.js';
import type { PruneOptions } from '../types.js';
import type { PgConnection, Tables, Tx } from './connection.js';

const DEFAULT_BATCH = 500;

/** Tables whose rows belong to one run, by the column naming it. */
const RUN_TABLES: readonly [table: keyof Tables, column: string][] = [
  ['states', 'run_id'],
  ['attempts', 'run_id'],
  ['logs', 'run_id'],
  ['streams', 'run_id'],
  ['steps', 'run_id'],
  ['eventWaits', 'run_id'],
  ['consumptions', 'run_id'],
  ['holds', 'holder_id'],
];

interface Batch {
  /** The last root examined (the next batch starts after it); undefined when there were no more. */
  lastRootId: string | undefined;
  /** Every run of the trees that may go (roots included). */
  runIds: string[];
}

/** The next batch of prunable trees: roots in id order after `afterId`; with `lock`, their rows locked. */
async function nextBatch(
  tx: Tx,
  namespace: string,
  finishedBefore: number,
  afterId: string,
  limit: number,
  lock: boolean,
): Promise<Batch> {
  const { t } = tx;
  const roots = await tx.query<{ id: string }>(
    `SELECT id FROM ${t.runs} WHERE namespace = $1 AND id > $2 AND parent_run_id IS NULL
       AND status = ANY($3::text[]) AND finished_at < $4 ORDER BY id LIMIT $5`,
    [namespace, afterId, TERMINAL_STATES, finishedBefore, limit],
  );
  if (roots.rows.length === 0) return { lastRootId: undefined, runIds: [] };
  const tree = await tx.query<{ root: string; id: string }>(
    `WITH RECURSIVE tree(root, id) AS (
       SELECT r COLLATE "C", r COLLATE "C" FROM unnest($1::text[]) AS r
       UNION
       SELECT tree.root, runs.id FROM ${t.runs} runs JOIN tree ON runs.parent_run_id = tree.id
     )
     SELECT root, id FROM tree`,
    [roots.rows.map((r) => r.id)],
  );
  // Statuses are read after locking, so what is decided on is what gets deleted.
  const statuses = await tx.query<{ id: string; status: string }>(
    `SELECT id, status FROM ${t.runs} WHERE id = ANY($1::text[]) ORDER BY id${lock ? ' FOR UPDATE' : ''}`,
    [tree.rows.map((r) => r.id)],
  );
  const ended = new Set(statuses.rows.filter((r) => (TERMINAL_STATES as string[]).includes(r.status)).map((r) => r.id));
  const kept = new Set(tree.rows.filter((row) => !ended.has(row.id)).map((row) => row.root));
  return {
    lastRootId: roots.rows[roots.rows.length - 1]?.id,
    runIds: tree.rows.filter((row) => !kept.has(row.root)).map((row) => row.id),
  };
}

async function deleteRuns(tx: Tx, namespace: string, runIds: readonly string[]): Promise<void> {
  const { t } = tx;
  // Idempotency keys by their primary key (the runs name them), only where they still point at these runs.
  await tx.query(
    `DELETE FROM ${t.keys} k USING ${t.runs} r
     WHERE r.id = ANY($1::text[]) AND r.idempotency_key IS NOT NULL
       AND k.namespace = r.namespace AND k.task_name = r.task_name AND k.key = r.idempotency_key AND k.run_id = r.id`,
    [runIds],
  );
  for (const [table, column] of RUN_TABLES) {
    await tx.query(`DELETE FROM ${t[table]} WHERE ${column} = ANY($1::text[])`, [runIds]);
  }
  await tx.query(`DELETE FROM ${t.runs} WHERE namespace = $1 AND id = ANY($2::text[])`, [namespace, runIds]);
}

/** Deletes (or with `dryRun` only counts) the runs of prunable trees; returns how many runs. */
export async function pruneRuns(
  c: PgConnection,
  namespace: string,
  finishedBefore: number,
  options: PruneOptions = {},
): Promise<number> {
  const limit = options.batch ?? DEFAULT_BATCH;
  let afterId = '';
  let count = 0;
  for (;;) {
    const batch = await c.tx(async (tx) => {
      const found = await nextBatch(tx, namespace, finishedBefore, afterId, limit, !options.dryRun);
      if (!options.dryRun && found.runIds.length > 0) await deleteRuns(tx, namespace, found.runIds);
      return found;
    });
    if (batch.lastRootId === undefined) return count;
    count += batch.runIds.length;
    afterId = batch.lastRootId;
  }
}
