// graphile-worker adapter. Variants:
//   (default) "fast": concurrentJobs C, maxPoolSize C+2, localQueue.size C*2, completeJobBatchDelay 0
//             (the batching knobs from the project's performance docs), LISTEN/NOTIFY (built in).
//   "plain": concurrentJobs C, maxPoolSize C+2, no localQueue, no completion batching (defaults).

import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker';
import pg from 'pg';
import { dropDatabase, pgUrl, pkgVersion, resetDatabase } from '../src/util.js';

const DB = 'bench_graphile';
const TASK = 'bench';
const quiet = new Logger(() => (level, message) => {
  if (level === 'error') console.error('[graphile]', message);
});

export default function create({ variant = 'fast', concurrency = 32 } = {}) {
  const fast = variant !== 'plain';
  const preset = fast ? { worker: { localQueue: { size: concurrency * 2 }, completeJobBatchDelay: 0 } } : undefined;
  let utils, runner, pgPool, workerPool;
  // Our own pools (with error handlers, as graphile-worker asks), ended before the DB is dropped.
  const mkPool = (max) => {
    const p = new pg.Pool({ connectionString: pgUrl(DB), max });
    p.on('error', (e) => console.error('[graphile pool]', e.message));
    p.on('connect', (client) => client.on('error', (e) => console.error('[graphile client]', e.message)));
    return p;
  };
  return {
    name: `graphile-worker${fast ? '' : `:${variant}`}`,
    version: pkgVersion('graphile-worker'),
    settings: {
      concurrentJobs: concurrency,
      maxPoolSize: concurrency + 2,
      pollInterval: 2000,
      localQueueSize: fast ? concurrency * 2 : 'off',
      completeJobBatchDelay: fast ? 0 : 'off (-1)',
      listenNotify: 'always on',
      bulk: 'workerUtils.addJobs()',
      single: 'workerUtils.addJob()',
      chainStep: 'helpers.addJob() from task',
    },
    async setup() {
      await resetDatabase(DB);
      await runMigrations({ connectionString: pgUrl(DB), logger: quiet });
      pgPool = mkPool(10);
      utils = await makeWorkerUtils({ pgPool, logger: quiet });
    },
    // scale workload: another process attaches to the same (migrated) database.
    attachSpec() {
      return {};
    },
    async attach() {
      pgPool = mkPool(2);
      utils = await makeWorkerUtils({ pgPool, logger: quiet });
    },
    async detach() {
      if (runner) await runner.stop().catch(() => {});
      if (utils) await utils.release();
      if (pgPool) await pgPool.end();
      if (workerPool) await workerPool.end().catch(() => {});
    },
    async teardown() {
      if (runner) await runner.stop().catch(() => {});
      if (utils) await utils.release();
      if (pgPool) await pgPool.end();
      if (workerPool) await workerPool.end().catch(() => {});
      workerPool = null;
      await dropDatabase(DB);
    },
    async enqueue(payload) {
      await utils.addJob(TASK, payload);
    },
    async enqueueMany(payloads) {
      await utils.addJobs(payloads.map((payload) => ({ identifier: TASK, payload })));
    },
    async startWorker(handler) {
      workerPool ??= mkPool(concurrency + 2);
      runner = await run({
        pgPool: workerPool,
        concurrency,
        pollInterval: 2000,
        noHandleSignals: true,
        logger: quiet,
        preset,
        taskList: {
          [TASK]: async (payload, helpers) => handler(payload, { enqueue: (p) => helpers.addJob(TASK, p) }),
        },
      });
    },
    async stopWorker() {
      if (runner) await runner.stop();
      runner = null;
    },
  };
}
