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
  // Extra workloads (chainDurable, chainDag, fanout, sleepMemory): their own tasks, same store.
  let stepFn = async () => {};
  let childFn = async () => {};
  let durableChain;
  let dagChain;
  let fanChild;
  let fanParent;
  let sleeper;
  let extraWorker;
  const open = async (database) => {
    baton = new Baton({ database, logLevel: 'silent' });
    task = baton.task({ name: TASK }, async (input) => {
      await handler(input, api);
    });
    // (a) one durable task, three recorded ctx.step() calls
    durableChain = baton.durableTask({ name: 'bench-chain-durable' }, async (input, ctx) => {
      for (let s = 1; s <= 3; s++) await ctx.step(`s${s}`, () => stepFn(input, s));
    });
    // (b) a DAG workflow s1 -> s2 -> s3 (parents)
    dagChain = baton.workflow({ name: 'bench-chain-dag' });
    const d1 = dagChain.task({ name: 's1' }, async (input) => {
      await stepFn(input, 1);
    });
    const d2 = dagChain.task({ name: 's2', parents: [d1] }, async (input) => {
      await stepFn(input, 2);
    });
    dagChain.task({ name: 's3', parents: [d2] }, async (input) => {
      await stepFn(input, 3);
    });
    // fan-out: a durable parent awaiting N recorded children (ctx.runChild: Waiting, no slot held)
    fanChild = baton.task({ name: 'bench-fan-child' }, async (input) => {
      await childFn(input);
    });
    fanParent = baton.durableTask({ name: 'bench-fan-parent' }, async (input, ctx) => {
      await Promise.all(Array.from({ length: input.n }, (_, i) => ctx.runChild(fanChild, { i })));
      return input.n;
    });
    // durable sleep
    sleeper = baton.durableTask({ name: 'bench-sleeper' }, async (_input, ctx) => {
      await ctx.sleepFor('1h');
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
  const startExtra = async (slots, tasks) => {
    extraWorker = baton.worker({ name: 'bench-extra', slots, tasks });
    await extraWorker.start();
  };
  const stopExtra = async () => {
    if (extraWorker) await extraWorker.stop();
    extraWorker = undefined;
    stepFn = async () => {};
    childFn = async () => {};
  };
  const chainVariant = (get) => ({
    async startWorker(fn, { concurrency: slots = concurrency } = {}) {
      stepFn = fn;
      await startExtra(slots, [get()]);
    },
    async enqueue(payload) {
      await get().enqueue(payload);
    },
    async enqueueMany(payloads) {
      await get().enqueueMany(payloads.map((input) => ({ input })));
    },
    stopWorker: stopExtra,
  });
  // Chain variants (rows "(durable)" and "(dag)"), same contract as `workflows`.
  adapter.chainVariants = {
    durable: chainVariant(() => durableChain),
    dag: chainVariant(() => dagChain),
  };
  adapter.settings.chainVariants = 'durable: baton.durableTask with 3 x ctx.step(); dag: baton.workflow s1->s2->s3 (parents)';
  // Native fan-out: one durable parent, Promise.all of N ctx.runChild() (recorded, parent Waiting).
  adapter.fanout = {
    mode: 'durableTask + N x ctx.runChild() (Promise.all)',
    async startWorker(fn, { concurrency: slots = concurrency } = {}) {
      childFn = fn;
      await startExtra(slots, [fanParent, fanChild]);
    },
    async run(n) {
      const h = await fanParent.enqueue({ n });
      await h.result({ timeout: '10m' });
    },
    stopWorker: stopExtra,
  };
  // Durable sleep: N runs parked in ctx.sleepFor('1h').
  adapter.durableSleep = {
    async startWorker({ concurrency: slots = concurrency } = {}) {
      await startExtra(slots, [sleeper]);
    },
    async enqueue(n) {
      for (let s = 0; s < n; s += 1000)
        await sleeper.enqueueMany(Array.from({ length: Math.min(1000, n - s) }, (_, i) => ({ input: { i: s + i } })));
    },
    async sleeping() {
      const store = await baton.store();
      const page = await store.listRuns({ namespace: 'default', statuses: ['Waiting'], taskName: 'bench-sleeper', limit: 5000 });
      return page.items.length;
    },
    stopWorker: stopExtra,
  };
  return adapter;
}
