/** baton.transaction() records on SQLite: the transaction row and its member runs. */
import type { SerializedError } from '../../errors.js';
import type { RunRow, TransactionChange, TransactionRow, TransactionStatus } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { RUN_COLUMNS, type SqlRunRow, toRunRow } from './rows.js';

interface SqlTransactionRow {
  id: string;
  namespace: string;
  parent_id: string | null;
  status: string;
  hooks_run_id: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export function createTransaction(c: SqliteConnection, namespace: string, id: string, parentId: string | null): void {
  const now = c.now();
  c.stmt(
    `INSERT INTO transactions (id, namespace, parent_id, status, created_at, updated_at) VALUES (?, ?, ?, 'open', ?, ?)`,
  ).run(id, namespace, parentId, now, now);
}

export function updateTransaction(c: SqliteConnection, namespace: string, id: string, change: TransactionChange): void {
  c.stmt(`UPDATE transactions SET status = ?, hooks_run_id = COALESCE(?, hooks_run_id), error = COALESCE(?, error), updated_at = ?
    WHERE id = ? AND namespace = ?`).run(
    change.status,
    change.hooksRunId ?? null,
    change.error ? JSON.stringify(change.error) : null,
    c.now(),
    id,
    namespace,
  );
}

export function getTransaction(c: SqliteConnection, namespace: string, id: string): TransactionRow | undefined {
  const row = c.stmt('SELECT * FROM transactions WHERE id = ? AND namespace = ?').get(id, namespace) as
    | SqlTransactionRow
    | undefined;
  if (!row) return undefined;
  return {
    id: row.id,
    namespace: row.namespace,
    parentId: row.parent_id,
    status: row.status as TransactionStatus,
    hooksRunId: row.hooks_run_id,
    error: row.error === null ? null : (JSON.parse(row.error) as SerializedError),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function transactionMembers(c: SqliteConnection, namespace: string, id: string): RunRow[] {
  const rows = c
    .stmt(`SELECT ${RUN_COLUMNS} FROM runs WHERE transaction_id = ? AND namespace = ? ORDER BY created_at, id`)
    .all(id, namespace) as SqlRunRow[];
  return rows.map(toRunRow);
}

export function moveTransactionMembers(c: SqliteConnection, namespace: string, fromId: string, toId: string): void {
  c.stmt('UPDATE runs SET transaction_id = ? WHERE transaction_id = ? AND namespace = ?').run(toId, fromId, namespace);
}
