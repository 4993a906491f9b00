/**
 * One better-sqlite3 connection with its prepared-statement cache, the store's
 * time source, and the write path: BEGIN IMMEDIATE with a short busy_timeout
 * and async backoff, so another process holding the write lock never blocks
 * this event loop for long (DESIGN.md §2.13 "SQLite").
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../../clock/clock.js';
import { StorageError } from '../../errors.js';

type Statement = Database.Statement<unknown[], unknown>;

const BUSY_TIMEOUT_MS = 5;
const MAX_BUSY_WAIT_MS = 30_000;
/** The WAL file is cut back to this size when it is reset (PRAGMA journal_size_limit). */
const WAL_SIZE_LIMIT_BYTES = 32 * 1024 * 1024;

export class SqliteConnection {
  readonly db: Database.Database;
  readonly path: string;
  readonly clock: Clock;
  private readonly statements = new Map<string, Statement>();
  private readonly immediate: (fn: () => unknown) => unknown;

  constructor(path: string, clock: Clock) {
    this.clock = clock;
    this.path = path === ':memory:' ? path : resolve(path);
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    try {
      this.db = new Database(this.path);
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      this.db.pragma('journal_mode = WAL');
      // A long reader in another process keeps the WAL from being reset, so a write burst grows it;
      // without a limit the file then stays at its largest size for good. With one, the next reset
      // (once no reader needs the old frames) truncates it back.
      this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = OFF');
    } catch (error) {
      throw storageError(error, this.path);
    }
    const transaction = this.db.transaction((fn: () => unknown) => fn());
    this.immediate = (fn) => transaction.immediate(fn);
  }

  now(): number {
    return this.clock.now();
  }

  stmt(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  #userTransaction: Promise<void> | undefined = undefined;

  /** Runs `fn` in one BEGIN IMMEDIATE transaction, retrying while another writer holds the lock. */
  async write<T>(fn: () => T): Promise<T> {
    // A user transaction (ctx.transaction) holds this connection's write transaction across awaits.
    for (let i = 0; i < 1_000_000 && this.#userTransaction; i++) await this.#userTransaction;
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return this.immediate(fn) as T;
      } catch (error) {
        if (isBusy(error) && performance.now() - started < MAX_BUSY_WAIT_MS) {
          await new Promise((r) => setTimeout(r, Math.min(2 ** attempt, 50) * (0.5 + Math.random())));
          continue;
        }
        throw storageError(error, this.path);
      }
    }
  }

  /**
   * Runs async `fn` inside BEGIN IMMEDIATE on this connection; this process's other writes
   * wait for it, other processes' writes retry on busy. Commits when `fn` resolves.
   */
  async writeAsync<T>(fn: () => Promise<T>): Promise<T> {
    for (let i = 0; i < 1_000_000 && this.#userTransaction; i++) await this.#userTransaction;
    let release!: () => void;
    this.#userTransaction = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      const started = performance.now();
      for (let attempt = 0; ; attempt++) {
        try {
          this.db.exec('BEGIN IMMEDIATE');
          break;
        } catch (error) {
          if (isBusy(error) && performance.now() - started < MAX_BUSY_WAIT_MS) {
            await new Promise((r) => setTimeout(r, Math.min(2 ** attempt, 50) * (0.5 + Math.random())));
            continue;
          }
          throw storageError(error, this.path);
        }
      }
      try {
        const result = await fn();
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    } finally {
      this.#userTransaction = undefined;
      release();
    }
  }

  /** Runs a read; WAL readers never wait for writers, but a checkpoint can briefly report busy. */
  async read<T>(fn: () => T): Promise<T> {
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return fn();
      } catch (error) {
        if (isBusy(error) && performance.now() - started < MAX_BUSY_WAIT_MS) {
          await new Promise((r) => setTimeout(r, Math.min(2 ** attempt, 50)));
          continue;
        }
        throw storageError(error, this.path);
      }
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_LOCKED';
}

export function storageError(error: unknown, path: string): Error {
  if (error instanceof StorageError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE')) return error instanceof Error ? error : new Error(String(error));
  if (code === 'SQLITE_NOTADB') {
    return new StorageError(
      `${path} is not a SQLite database (the file exists but holds something else); point database at another path`,
      {
        cause: error,
        retryable: false,
      },
    );
  }
  if (code === 'SQLITE_CANTOPEN') {
    return new StorageError(`cannot open SQLite database at ${path}: check the path and its permissions`, {
      cause: error,
      retryable: false,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StorageError(`SQLite error at ${path}: ${message}`, { cause: error, retryable: isBusy(error) });
}
