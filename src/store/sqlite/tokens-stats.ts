/** API tokens and run statistics on SQLite (for the HTTP API, the dashboard's charts and /metrics). */
import type { StateName } from '../../engine/types.js';
import type { RunStatsRows, TokenRow } from '../types.js';
import type { SqliteConnection } from './connection.js';

interface SqlTokenRow {
  id: string;
  token_hash: string;
  name: string | null;
  namespaces: string;
  scope: string;
  created_at: number;
  revoked_at: number | null;
}

function toTokenRow(row: SqlTokenRow): TokenRow {
  return {
    id: row.id,
    tokenHash: row.token_hash,
    name: row.name,
    namespaces: JSON.parse(row.namespaces) as string[],
    scope: row.scope as TokenRow['scope'],
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

export function createToken(c: SqliteConnection, token: TokenRow): void {
  c.stmt(`INSERT INTO api_tokens (id, token_hash, name, namespaces, scope, created_at) VALUES (?, ?, ?, ?, ?, ?)`).run(
    token.id,
    token.tokenHash,
    token.name,
    JSON.stringify(token.namespaces),
    token.scope,
    token.createdAt,
  );
}

export function findToken(c: SqliteConnection, tokenHash: string): TokenRow | undefined {
  const row = c.stmt('SELECT * FROM api_tokens WHERE token_hash = ?').get(tokenHash) as SqlTokenRow | undefined;
  return row ? toTokenRow(row) : undefined;
}

export function listTokens(c: SqliteConnection): TokenRow[] {
  return (c.stmt('SELECT * FROM api_tokens ORDER BY created_at, id').all() as SqlTokenRow[]).map(toTokenRow);
}

export function revokeToken(c: SqliteConnection, id: string): boolean {
  return c.stmt('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(c.now(), id).changes > 0;
}

export function runStats(c: SqliteConnection, namespace: string, since: number, limit: number): RunStatsRows {
  const counts = c
    .stmt(`SELECT status, COUNT(*) AS n FROM runs WHERE namespace = ? AND kind = 'task' GROUP BY status`)
    .all(namespace) as { status: StateName; n: number }[];
  const ended = c
    .stmt(`SELECT status, created_at, started_at, finished_at FROM runs
      WHERE namespace = ? AND kind = 'task' AND finished_at >= ? ORDER BY finished_at DESC LIMIT ?`)
    .all(namespace, since, limit) as { status: StateName; created_at: number; started_at: number | null; finished_at: number }[];
  return {
    byStatus: Object.fromEntries(counts.map((r) => [r.status, r.n])),
    ended: ended.map((r) => ({ status: r.status, createdAt: r.created_at, startedAt: r.started_at, finishedAt: r.finished_at })),
  };
}
