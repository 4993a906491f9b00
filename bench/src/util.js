// Small shared helpers: clock, stats, timeouts, Postgres database reset.
import pg from 'pg';

export const now = () => performance.now(); // ms, monotonic, same process only

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function env(name, def) {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

export const PG_HOST = process.env.PGHOST || '127.0.0.1';
export const PG_PORT = Number(process.env.PGPORT || 5432);
export const PG_USER = process.env.PGUSER || 'root';
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379/0';

export function pgUrl(db) {
  return `postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/${db}`;
}

/** Drop (forcefully) and re-create a database so every measurement starts empty. */
export async function resetDatabase(db) {
  if (!/^[a-z_][a-z0-9_]*$/.test(db)) throw new Error(`bad db name ${db}`);
  const c = new pg.Client({ connectionString: pgUrl('postgres'), connectionTimeoutMillis: 10000 });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${db}`);
  } finally {
    await c.end();
  }
}

export async function dropDatabase(db) {
  const c = new pg.Client({ connectionString: pgUrl('postgres'), connectionTimeoutMillis: 10000 });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

/** Reject after ms with a TimeoutError; the underlying promise is left to settle on its own. */
export class TimeoutError extends Error {}
export function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** Resolves when counter.count >= target, or rejects with TimeoutError at deadline. */
export function waitFor(pred, timeoutMs, what, pollMs = 5) {
  return new Promise((resolve, reject) => {
    const deadline = now() + timeoutMs;
    const tick = () => {
      if (pred()) return resolve();
      if (now() > deadline) return reject(new TimeoutError(`${what} timed out after ${timeoutMs} ms`));
      setTimeout(tick, pollMs);
    };
    tick();
  });
}

/** Run fn(i) for i in [0,n) with at most `limit` in flight. */
export async function pool(n, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  });
  await Promise.all(workers);
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const round = (x, d = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

export const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

/** Installed version of a package (reads node_modules/<name>/package.json; works despite "exports"). */
import { readFileSync } from 'node:fs';
export function pkgVersion(name) {
  const u = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(u, 'utf8')).version;
}
