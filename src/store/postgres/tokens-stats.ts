/** API tokens and run statistics on PostgreSQL (for the HTTP API, the dashboard's charts and /metrics). */
import type { StateName } from '../../engine/types.js';
import type { RunStatsRows, TokenRow } from '../types.js';
import type { Tx } from './connection.js';

interface PgTokenRow {
  id: string;
  token_hash: string;
  name: string | null;
  namespaces: string;
  scope: string;
  created_at: string;
  revoked_at: string | null;
}

function toTokenRow(row: PgTokenRow): TokenRow {
  return {
    id: row.id,
    tokenHash: row.token_hash,
    name: row.name,
    namespaces: JSON.parse(row.namespaces) as string[],
    scope: row.scope as TokenRow['scope'],
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

const COLUMNS = 'id, token_hash, name, namespaces, scope, created_at::text, revoked_at::text';

export async function createToken(tx: Tx, token: TokenRow): Promise<void> {
  await tx.query(
    `INSERT INTO ${tx.t.tokens} (id, token_hash, name, namespaces, scope, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
    [token.id, token.tokenHash, token.name, JSON.stringify(token.namespaces), token.scope, token.createdAt],
  );
}

export async function findToken(tx: Tx, tokenHash: string): Promise<TokenRow | undefined> {
  const result = await tx.query<PgTokenRow>(`SELECT ${COLUMNS} FROM ${tx.t.tokens} WHERE token_hash = $1`, [tokenHash]);
  const row = result.rows[0];
  return row ? toTokenRow(row) : undefined;
}

export async function listTokens(tx: Tx): Promise<TokenRow[]> {
  const result = await tx.query<PgTokenRow>(`SELECT ${COLUMNS} FROM ${tx.t.tokens} ORDER BY created_at, id`);
  return result.rows.map(toTokenRow);
}

export async function revokeToken(tx: Tx, id: string): Promise<boolean> {
  const result = await tx.query(`UPDATE ${tx.t.tokens} SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, [id, tx.now]);
  return (result.rowCount ?? 0) > 0;
}

export async function runStats(tx: Tx, namespace: string, since: number, limit: number): Promise<RunStatsRows> {
  const counts = await tx.query<{ status: StateName; n: string }>(
    `SELECT status, COUNT(*)::text AS n FROM ${tx.t.runs} WHERE namespace = $1 AND kind = 'task' GROUP BY status`,
    [namespace],
  );
  const ended = await tx.query<{ status: StateName; created_at: string; started_at: string | null; finished_at: string }>(
    `SELECT status, created_at::text, started_at::text, finished_at::text FROM ${tx.t.runs}
     WHERE namespace = $1 AND kind = 'task' AND finished_at >= $2 ORDER BY finished_at DESC LIMIT $3`,
    [namespace, since, limit],
  );
  return {
    byStatus: Object.fromEntries(counts.rows.map((r) => [r.status, Number(r.n)])),
    ended: ended.rows.map((r) => ({
      status: r.status,
      createdAt: Number(r.created_at),
      startedAt: r.started_at === null ? null : Number(r.started_at),
      finishedAt: Number(r.finished_at),
    })),
  };
}
