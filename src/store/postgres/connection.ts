/**
 * The PostgreSQL connection: a `pg.Pool`, the store's time source, the escaped
 * table names of Baton's schema, error mapping (connection loss → retryable
 * StorageError) and the transaction helper that batches NOTIFY wake-ups.
 *
 * Time: with an injected clock (tests) every statement gets the clock's time as
 * a parameter; otherwise each transaction reads the database's clock once, at
 * BEGIN, so every worker compares leases and due-times against one clock.
 */
import type { Client, Pool, PoolClient, PoolConfig, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { Clock } from '../../clock/clock.js';
import { StorageError, ValidationError } from '../../errors.js';
import { getProcessLogger } from '../../logger.js';
import { encodeNotes, type Note } from './notes.js';

export type PgModule = typeof import('pg');

export const DEFAULT_POOL_SIZE = 10;
/**
 * Client-side bound on each of Baton's own statements (not on user statements in ctx.transaction,
 * nor migrations). A connection that goes silent (a blackholed network: no RST, no FIN) would
 * otherwise hang its caller and its pooled connection for good; on timeout the connection is
 * discarded and the call fails like a lost connection (retryable). 10 s is a third of the
 * default lease, so one hung heartbeat ends before the next is due.
 */
export const QUERY_TIMEOUT_MS = 10_000;

export interface QueryOptions {
  /**
   * Prepare the statement once per connection (a named statement), so later runs skip parsing and,
   * once PostgreSQL settles on a generic plan, planning: for the statements of the claim and settle
   * path, whose text never varies. Not for texts built per call (each would stay prepared).
   */
  prepare?: boolean;
}

/** For the hot statements: `tx.query(sql, params, PREPARED)`. */
export const PREPARED: QueryOptions = { prepare: true };

/** The names of prepared statements, one per text (the schema is part of the text). */
const statementNames = new Map<string, string>();

/** A statement bounded by QUERY_TIMEOUT_MS (pg reads `query_timeout` from a query's config; its types omit it). */
function bounded(text: string, values?: unknown[], options?: QueryOptions): QueryConfig {
  const config = { text, values, query_timeout: QUERY_TIMEOUT_MS } as QueryConfig;
  if (options?.prepare) {
    let name = statementNames.get(text);
    if (name === undefined) {
      name = `baton_${statementNames.size + 1}`;
      statementNames.set(text, name);
    }
    config.name = name;
  }
  return config;
}
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';
const MAX_TX_RETRIES = 5;

/** Double-quotes an identifier (the schema name), once, at construction. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The schema-qualified, escaped table names. */
export interface Tables {
  runs: string;
  states: string;
  attempts: string;
  logs: string;
  streams: string;
  keys: string;
  workers: string;
  registry: string;
  steps: string;
  eventWaits: string;
  consumptions: string;
  events: string;
  schedules: string;
  fires: string;
  holds: string;
  rateHits: string;
  cache: string;
  transactions: string;
  tokens: string;
}

export function tablesOf(schema: string): Tables {
  const s = quoteIdent(schema);
  return {
    runs: `${s}.runs`,
    states: `${s}.run_states`,
    attempts: `${s}.attempts`,
    logs: `${s}.logs`,
    streams: `${s}.stream_chunks`,
    keys: `${s}.idempotency_keys`,
    workers: `${s}.workers`,
    registry: `${s}.task_registry`,
    steps: `${s}.steps`,
    eventWaits: `${s}.event_waits`,
    consumptions: `${s}.event_consumptions`,
    events: `${s}.events`,
    schedules: `${s}.schedules`,
    fires: `${s}.schedule_fires`,
    holds: `${s}.flow_holds`,
    rateHits: `${s}.rate_limit_hits`,
    cache: `${s}.cache_entries`,
    transactions: `${s}.transactions`,
    tokens: `${s}.api_tokens`,
  };
}

/** The NOTIFY channel of one schema (at most 63 bytes, PostgreSQL's identifier limit). */
export function channelOf(schema: string): string {
  return `baton_${schema}`.slice(0, 63);
}

/** A query runner bound to one transaction. */
export interface Tx {
  /** The transaction's time (epoch ms). */
  readonly now: number;
  readonly t: Tables;
  query<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>>;
  /** A user's statement (ctx.transaction): not bounded by QUERY_TIMEOUT_MS, which is for Baton's own. */
  userQuery<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Queues a wake-up, sent with pg_notify just before COMMIT. */
  notify(note: Note): void;
  /**
   * Commits without waiting for the WAL flush (synchronous_commit off, this transaction only): for
   * writes a database crash may lose because they are redone anyway (a plain claim, whose worker
   * then finds its lease gone, or a lease renewal). It saves a disk flush on the claim path.
   */
  skipCommitFlush(): void;
}

/** Loads `pg` lazily (an optional peer dependency). */
export async function loadPg(): Promise<PgModule> {
  try {
    const module = (await import('pg')) as PgModule & { default?: PgModule };
    return module.default ?? module;
  } catch (error) {
    throw new StorageError('the PostgreSQL store needs the "pg" package: npm install pg', { cause: error, retryable: false });
  }
}

/** pg settings shared by the pool, the listener and the migrator: bigint as number, json parsed. */
export function baseConfig(pg: PgModule, url: string): PoolConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        if (oid === 20) return (value: string) => Number(value);
        return pg.types.getTypeParser(oid, format as 'text');
      }) as never,
    },
  };
}

export class PgConnection {
  readonly pool: Pool;
  readonly t: Tables;
  readonly schema: string;
  readonly channel: string;
  readonly location: string;
  private readonly clock: Clock;
  private readonly isClockInjected: boolean;
  private readonly guarded = new WeakSet<object>();

  constructor(pg: PgModule, url: string, schema: string, clock: Clock, isClockInjected: boolean, poolSize = DEFAULT_POOL_SIZE) {
    this.schema = schema;
    this.t = tablesOf(schema);
    this.channel = channelOf(schema);
    this.clock = clock;
    this.isClockInjected = isClockInjected;
    this.location = describeLocation(url);
    this.pool = new pg.Pool({ ...baseConfig(pg, url), max: poolSize });
    // A connection that dies must never crash the process: every client gets a permanent
    // 'error' listener when it is created (pg-pool's own listeners are attached only while a
    // client is idle, or once per pool.query), and idle failures are logged.
    this.pool.on('connect', (client) => this.guard(client));
    this.pool.on('error', (error) => {
      getProcessLogger().warn({ err: error, database: this.location }, 'an idle PostgreSQL connection failed');
    });
  }

  /** The store's time: the clock when injected, else the database's. */
  async now(): Promise<number> {
    if (this.isClockInjected) return this.clock.now();
    const result = await this.query<{ now: number }>(`SELECT ${DB_NOW} AS now`);
    return Number(result.rows[0]?.now);
  }

  /**
   * One read on any pooled connection (autocommit; writes go through `tx`). A read whose
   * connection was lost (a pooled connection the server closed) is run again.
   */
  async query<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.query<R>(bounded(sql, params, options));
      } catch (error) {
        if (attempt < MAX_TX_RETRIES && isConnectionError(error) && !isTimeout(error)) {
          await backoff(attempt);
          continue;
        }
        throw toStorageError(error, this.location);
      }
    }
  }

  /**
   * Runs `fn` in one transaction. Deadlocks and serialization failures, and connections lost
   * before COMMIT was sent (the server rolled the transaction back), are retried from the start;
   * a lost COMMIT (its outcome unknown), a timeout (a silent connection may still hold the
   * transaction open) and anything else roll back and throw.
   */
  async tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient | undefined;
      let isCommitting = false;
      try {
        client = await this.pool.connect();
        this.guard(client);
        const now = await this.begin(client);
        const notes: Note[] = [];
        let commit = 'COMMIT';
        const c = client;
        const tx: Tx = {
          now,
          t: this.t,
          query: (sql, params, options) => c.query(bounded(sql, params, options)),
          userQuery: (sql, params) => c.query(sql, params),
          notify: (note) => notes.push(note),
          skipCommitFlush: () => {
            commit = 'SET LOCAL synchronous_commit = off; COMMIT';
          },
        };
        const result = await fn(tx);
        const payloads = encodeNotes(notes);
        isCommitting = true;
        if (payloads.length > 0) {
          // One round trip for the wake-ups and the commit: a simple-protocol query cannot take
          // parameters, so the (our own JSON) payloads are escaped as literals.
          const calls = payloads.map((p) => `pg_notify(${c.escapeLiteral(this.channel)}, ${c.escapeLiteral(p)})`).join(', ');
          await c.query(bounded(`SELECT ${calls}; ${commit}`));
        } else {
          await c.query(bounded(commit));
        }
        client.release();
        return result;
      } catch (error) {
        const broken = isConnectionError(error);
        if (client) {
          if (!broken) await client.query('ROLLBACK').catch(() => undefined);
          client.release(broken ? (error as Error) : undefined);
        }
        const retry = attempt < MAX_TX_RETRIES && (isTransient(error) || (broken && !isCommitting && !isTimeout(error)));
        if (retry) {
          await backoff(attempt);
          continue;
        }
        throw toStorageError(error, this.location);
      }
    }
  }

  private async begin(client: PoolClient): Promise<number> {
    if (this.isClockInjected) {
      await client.query(bounded('BEGIN'));
      return this.clock.now();
    }
    // One round trip: the simple protocol runs both statements and returns both results.
    const results = (await client.query(bounded(`BEGIN; SELECT ${DB_NOW} AS now`))) as unknown as QueryResult<{ now: number }>[];
    return Number(results[1]?.rows[0]?.now);
  }

  /** A checked-out client whose connection dies emits 'error'; without a listener that would crash the process. */
  private guard(client: PoolClient | Client): void {
    if (this.guarded.has(client)) return;
    this.guarded.add(client);
    client.on('error', (error) => {
      getProcessLogger().debug({ err: error, database: this.location }, 'a PostgreSQL connection failed');
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

const CONNECTION_CODES = new Set([
  '57P01', // admin_shutdown (pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
]);

export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable|timeout exceeded when trying to connect|Query read timeout/i.test(
    message,
  );
}

/** A client-side timeout: the connection went silent (or the pool stayed full); retrying at once would wait as long again. */
function isTimeout(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return /Query read timeout|timeout exceeded when trying to connect|connection timeout/i.test(message);
}

function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(2 ** attempt * 5, 100) * (0.5 + Math.random())));
}

/** Deadlock or serialization failure: the transaction was rolled back and may simply be run again. */
function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

export function toStorageError(error: unknown, location: string): Error {
  if (error instanceof StorageError) return error;
  if (typeof error === 'object' && error !== null && Symbol.for('baton.error') in error) return error as Error;
  const message = error instanceof Error ? error.message : String(error);
  if (isConnectionError(error)) {
    return new StorageError(`lost the connection to PostgreSQL at ${location}: ${message}`, { cause: error, retryable: true });
  }
  if (isTransient(error)) {
    return new StorageError(`PostgreSQL at ${location}: ${message}`, { cause: error, retryable: true });
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '22021' || code === '22P05') {
    // The value, not the database, is at fault: PostgreSQL text cannot hold U+0000 (NUL).
    return new ValidationError(`a value contains the character U+0000 (NUL), which PostgreSQL cannot store or search for`, [
      { path: '(value)', message: 'contains U+0000' },
    ]);
  }
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    return new StorageError(`PostgreSQL error at ${location} (${code}): ${message}`, { cause: error, retryable: false });
  }
  return error instanceof Error ? error : new Error(message);
}

/** `host:port/database` of a connection string, without credentials. */
export function describeLocation(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}${parsed.port ? `:${parsed.port}` : ''}${parsed.pathname || '/'}`;
  } catch {
    return 'postgres';
  }
}
