/**
 * The store matrix: every store-touching test runs once per backend. SQLite
 * gets a fresh file in a temp folder; PostgreSQL gets a fresh schema in the
 * database named by BATON_TEST_PG_URL (default: the local `test` database),
 * dropped afterwards. Without a reachable PostgreSQL the PostgreSQL half is
 * skipped loudly, except under CI, where it fails.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Baton, type BatonOptions } from 'baton';
import { describe } from 'vitest';

export type BackendName = 'sqlite' | 'postgres';

export const PG_URL = process.env.BATON_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';

export interface StoreFixture {
  backend: BackendName;
  /** Options that point a Baton at this fixture's database. */
  options: Pick<BatonOptions, 'database' | 'schema'>;
  /** Environment for child processes that should use the same database. */
  env: Record<string, string>;
  /** A new Baton on this fixture's database (closed by cleanup). */
  baton(options?: BatonOptions): Baton;
  cleanup(): Promise<void>;
}

function sqliteFixture(): StoreFixture {
  const dir = mkdtempSync(join(tmpdir(), 'baton-test-'));
  const database = join(dir, 'baton.db');
  const batons: Baton[] = [];
  return {
    backend: 'sqlite',
    options: { database },
    env: { BATON_DATABASE_URL: database },
    baton(options = {}) {
      const baton = new Baton({ logLevel: 'silent', ...options, database });
      batons.push(baton);
      return baton;
    },
    async cleanup() {
      await Promise.all(batons.map((b) => b.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresFixture(): Promise<StoreFixture> {
  const { default: pg } = await import('pg');
  const schema = `baton_test_${randomBytes(6).toString('hex')}`;
  const batons: Baton[] = [];
  return {
    backend: 'postgres',
    options: { database: PG_URL, schema },
    env: { BATON_DATABASE_URL: PG_URL, BATON_SCHEMA: schema },
    baton(options = {}) {
      const baton = new Baton({ logLevel: 'silent', ...options, database: PG_URL, schema });
      batons.push(baton);
      return baton;
    },
    async cleanup() {
      await Promise.all(batons.map((b) => b.close()));
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

let pgAvailable: Promise<boolean> | undefined;

export function isPostgresAvailable(): Promise<boolean> {
  pgAvailable ??= (async () => {
    try {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
      await client.connect();
      await client.end();
      return true;
    } catch {
      return false;
    }
  })();
  return pgAvailable;
}

export async function createFixture(backend: BackendName): Promise<StoreFixture> {
  return backend === 'sqlite' ? sqliteFixture() : postgresFixture();
}

const BACKENDS: BackendName[] = (process.env.BATON_TEST_BACKENDS?.split(',') as BackendName[] | undefined) ?? [
  'sqlite',
  'postgres',
];

const postgresReachable = await isPostgresAvailable();
if (!postgresReachable && BACKENDS.includes('postgres')) {
  if (process.env.CI) throw new Error(`PostgreSQL is not reachable at ${PG_URL}; CI needs it (.ci/run starts it)`);
  console.warn(`\n⚠ PostgreSQL is not reachable at ${PG_URL}: the PostgreSQL half of the store suite is SKIPPED\n`);
}

/**
 * Declares the suite once per backend. `fn` receives the backend name; create a
 * fixture per test with `createFixture(backend)` and clean it up after.
 */
export function describeEachStore(name: string, fn: (backend: BackendName) => void): void {
  for (const backend of BACKENDS) {
    const skip = backend === 'postgres' && !postgresReachable;
    (skip ? describe.skip : describe)(`${name} [${backend}]`, () => fn(backend));
  }
}
