// Baton adapter (this project), through its public API only (`import { Baton } from 'baton'`,
// resolved to ../dist via "baton": "file:.." in bench/package.json; `npm run bench` builds it first).
// Variants:
//   "sqlite" (default): a fresh SQLite file under os.tmpdir() per repetition (WAL, Baton's defaults).
//   "postgres": a fresh database `bench_baton` per repetition, Baton's default schema (`baton`),
//               default pool (10 connections + 1 for LISTEN).
// Job = one run of a no-op task. Bulk = task.enqueueMany() (one transaction per chunk), single =
// task.enqueue(); chain step = task.enqueue() from inside the running task (Baton records it as a
// child run of the current one, automatically). One worker, slots = concurrency. Everything else
// is Baton's default (lease 30s, poll interval 100ms on SQLite / 1s on PostgreSQL + NOTIFY).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Baton } from 'baton';
import { dropDatabase, pgUrl, pkgVersion, resetDatabase } from '../src/util.js';

const DB = 'bench_baton';
const TASK = 'bench';

export default function create({ variant = 'sqlite', concurrency = 32 } = {}) {
  if (variant !== 'sqlite' && variant !== 'postgres') throw new Error(`baton: unknown variant ${variant}`);
  const pgMode = variant === 'postgres';
  let dir;
  let baton;
  let task;
  let worker;
  // The task function is fixed when the task is defined; the workload's handler is swapped in.
  let handler = async () => {};
  const api = { enqueue: (p) => task.enqueue(p) }; // inside a running task: a child run of it
  const open = async (database) => {
    baton = new Baton({ database, logLevel: 'silent' });
    task = baton.task({ name: TASK }, async (input) => {
      await handler(input, api);
    });
    await baton.store(); // open + migrate now, outside the measurements
  };

  const adapter = {
    name: `baton:${variant}`,
    version: pkgVersion('baton'),
    settings: {
      storage: pgMode
        ? `postgres, fresh database ${DB}, schema baton (default), poolSize 10 (default)`
        : 'sqlite file under os.tmpdir() (WAL, default)',
      slots: concurrency,
      logLevel: 'silent',
      bulk: 'task.enqueueMany()',
      single: 'task.enqueue()',
      chainStep: 'task.enqueue() from inside the task (child run)',
      other: 'defaults (lease 30s, pollInterval default, retries 0)',
    },
    /** Where this repetition's state lives (for worker processes that attach to it). */
    location: undefined,
    async setup() {
      let database;
      if (pgMode) {
        await resetDatabase(DB);
        database = pgUrl(DB);
      } else {
        dir = mkdtempSync(path.join(os.tmpdir(), 'baton-bench-'));
        database = path.join(dir, 'bench.db');
      }
      adapter.location = database;
      await open(database);
    },
    // scale workload: worker processes open the same database (SQLite file or PostgreSQL) as-is.
    attachSpec() {
      return { database: adapter.location };
    },
    async attach({ database }) {
      await open(database);
    },
    async detach() {
      if (baton) await baton.close();
      baton = undefined;
    },
    async teardown() {
      if (baton) await baton.close();
      baton = undefined;
      if (pgMode) await dropDatabase(DB);
      else if (dir) rmSync(dir, { recursive: true, force: true });
    },
    async enqueue(payload) {
      await task.enqueue(payload);
    },
    async enqueueMany(payloads) {
      await task.enqueueMany(payloads.map((input) => ({ input })));
    },
    async startWorker(h, { concurrency: slots = concurrency } = {}) {
      handler = h;
      worker = baton.worker({ name: 'bench', slots, tasks: [task] });
      await worker.start();
    },
    async stopWorker() {
      if (worker) await worker.stop();
      worker = undefined;
      handler = async () => {};
    },
  };
  return adapter;
}
