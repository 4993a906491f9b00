/** baton.transaction() records on PostgreSQL: the transaction row and its member runs. */
import type { SerializedError } from '../../errors.js';
import type { RunRow, TransactionChange, TransactionRow, TransactionStatus } from '../types.js';
import type { Tx } from './connection.js';
import { type PgRunRow, RUN_COLUMNS, toRunRow } from './rows.js';

interface PgTransactionRow {
  id: string;
  namespace: string;
  parent_id: string | null;
  status: string;
  hooks_run_id: string | null;
  error: SerializedError | null;
  created_at: string;
  updated_at: string;
}

export async function createTransaction(tx: Tx, namespace: string, id: string, parentId: string | null): Promise<void> {
  await tx.query(
    `INSERT INTO ${tx.t.transactions} (id, namespace, parent_id, status, created_at, updated_at) VALUES ($1, $2, $3, 'open', $4, $4)`,
    [id, namespace, parentId, tx.now],
  );
}

export async function updateTransaction(tx: Tx, namespace: string, id: string, change: TransactionChange): Promise<void> {
  await tx.query(
    `UPDATE ${tx.t.transactions} SET status = $3, hooks_run_id = COALESCE($4, hooks_run_id), error = COALESCE($5, error),
       updated_at = $6 WHERE id = $1 AND namespace = $2`,
    [id, namespace, change.status, change.hooksRunId ?? null, change.error ? JSON.stringify(change.error) : null, tx.now],
  );
}

export async function getTransaction(tx: Tx, namespace: string, id: string): Promise<TransactionRow | undefined> {
  const result = await tx.query<PgTransactionRow>(
    `SELECT id, namespace, parent_id, status, hooks_run_id, error, created_at::text, updated_at::text
     FROM ${tx.t.transactions} WHERE id = $1 AND namespace = $2`,
    [id, namespace],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    namespace: row.namespace,
    parentId: row.parent_id,
    status: row.status as TransactionStatus,
    hooksRunId: row.hooks_run_id,
    error: row.error,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export async function transactionMembers(tx: Tx, namespace: string, id: string): Promise<RunRow[]> {
  const result = await tx.query<PgRunRow>(
    `SELECT ${RUN_COLUMNS} FROM ${tx.t.runs} WHERE transaction_id = $1 AND namespace = $2 ORDER BY created_at, id`,
    [id, namespace],
  );
  return result.rows.map(toRunRow);
}

export async function moveTransactionMembers(tx: Tx, namespace: string, fromId: string, toId: string): Promise<void> {
  await tx.query(`UPDATE ${tx.t.runs} SET transaction_id = $1 WHERE transaction_id = $2 AND namespace = $3`, [
    toId,
    fromId,
    namespace,
  ]);
}
