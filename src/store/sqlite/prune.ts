/**
 * Retention on SQLite (DESIGN.md §4): deletes root runs that ended before a
 * cutoff together with everything recorded for them — states, attempts, logs,
 * stream chunks, steps, event waits, idempotency keys — and their whole tree
 * (a workflow run's tasks, child runs, their children). A tree with any run
 * that is not terminal is kept whole. Each batch is one write transaction, so
 * other processes on the file get the write lock between batches.
 */
import { TERMINAL_STATES } from '../../engine/states.js';
import type { PruneOptions } from '../types.js';
import type { SqliteConnection } from './connection.js';

const TERMINAL = TERMINAL_STATES.map((s) => `'${s}'`).join(', ');
const DEFAULT_BATCH = 500;

/** Tables whose rows belong to one run, by the column naming it. */
const RUN_TABLES: readonly [table: string, column: string][] = [
  ['run_states', 'run_id'],
  ['attempts', 'run_id'],
  ['logs', 'run_id'],
  ['stream_chunks', 'run_id'],
  ['steps', 'run_id'],
  ['event_waits', 'run_id'],
  ['event_consumptions', 'run_id'],
  ['flow_holds', 'holder_id'],
];

interface Batch {
  /** The last root examined (the next batch starts after it); undefined when there were no more. */
  lastRootId: string | undefined;
  /** Every run of the trees that may go (roots included). */
  runIds: string[];
}

/** The next batch of prunable trees: roots in id order after `afterId`. */
function nextBatch(c: SqliteConnection, namespace: string, finishedBefore: number, afterId: string, limit: number): Batch {
  const roots = c
    .stmt(
      `SELECT id FROM runs WHERE namespace = ? AND id > ? AND parent_run_id IS NULL
         AND status IN (${TERMINAL}) AND finished_at < ? ORDER BY id LIMIT ?`,
    )
    .all(namespace, afterId, finishedBefore, limit) as { id: string }[];
  if (roots.length === 0) return { lastRootId: undefined, runIds: [] };
  const tree = c
    .stmt(
      `WITH RECURSIVE tree(root, id) AS (
         SELECT value, value FROM json_each(?)
         UNION
         SELECT tree.root, runs.id FROM runs JOIN tree ON runs.parent_run_id = tree.id
       )
       SELECT tree.root AS root, tree.id AS id, runs.status IN (${TERMINAL}) AS ended
       FROM tree JOIN runs ON runs.id = tree.id`,
    )
    .all(JSON.stringify(roots.map((r) => r.id))) as { root: string; id: string; ended: number }[];
  const kept = new Set(tree.filter((row) => row.ended === 0).map((row) => row.root));
  return {
    lastRootId: roots[roots.length - 1]?.id,
    runIds: tree.filter((row) => !kept.has(row.root)).map((row) => row.id),
  };
}

function deleteRuns(c: SqliteConnection, namespace: string, runIds: readonly string[]): void {
  const ids = JSON.stringify(runIds);
  // Idempotency keys by their primary key (the runs name them), only where they still point at these runs.
  c.stmt(
    `DELETE FROM idempotency_keys WHERE (namespace, task_name, key) IN (
       SELECT namespace, task_name, idempotency_key FROM runs
       WHERE id IN (SELECT value FROM json_each(?)) AND idempotency_key IS NOT NULL)
     AND run_id IN (SELECT value FROM json_each(?))`,
  ).run(ids, ids);
  for (const [table, column] of RUN_TABLES) {
    c.stmt(`DELETE FROM ${table} WHERE ${column} IN (SELECT value FROM json_each(?))`).run(ids);
  }
  c.stmt('DELETE FROM runs WHERE namespace = ? AND id IN (SELECT value FROM json_each(?))').run(namespace, ids);
}

/** Deletes (or with `dryRun` only counts) the runs of prunable trees; returns how many runs. */
export async function pruneRuns(
  c: SqliteConnection,
  namespace: string,
  finishedBefore: number,
  options: PruneOptions = {},
): Promise<number> {
  const limit = options.batch ?? DEFAULT_BATCH;
  let afterId = '';
  let count = 0;
  for (;;) {
    const batch = options.dryRun
      ? await c.read(() => nextBatch(c, namespace, finishedBefore, afterId, limit))
      : await c.write(() => {
          const found = nextBatch(c, namespace, finishedBefore, afterId, limit);
          if (found.runIds.length > 0) deleteRuns(c, namespace, found.runIds);
          return found;
        });
    if (batch.lastRootId === undefined) return count;
    count += batch.runIds.length;
    afterId = batch.lastRootId;
  }
}
