// pg-boss adapter. Variants:
//   (default) "batch": localConcurrency 4 x batchSize 8 (= 32 jobs in flight), burstWhenBatchFull,
//             LISTEN/NOTIFY on (useListenNotify + queue notify:true).
//   "single": localConcurrency = C, batchSize 1 (one job per fetch; pollingIntervalSeconds 0.5).
import { PgBoss } from 'pg-boss';
import { dropDatabase, log, pgUrl, pkgVersion, resetDatabase } from '../src/util.js';

const DB = 'bench_pgboss';
const QUEUE = 'bench';

export default function create({ variant = 'batch', concurrency = 32 } = {}) {
  const batchSize = variant === 'single' ? 1 : 8;
  const localConcurrency = Math.max(1, Math.round(concurrency / batchSize));
  const poolMax = 20;
  let boss;
  let workId = null;
  const adapter = {
    name: `pg-boss${variant === 'batch' ? '' : `:${variant}`}`,
    version: pkgVersion('pg-boss'),
    settings: {
      useListenNotify: true,
      queueNotify: true,
      poolMax,
      localConcurrency,
      batchSize,
      burstWhenBatchFull: batchSize > 1,
      pollingIntervalSeconds: 0.5,
      bulk: 'boss.insert()',
      single: 'boss.send()',
      chainStep: 'boss.send() from handler',
    },
    async setup() {
      await resetDatabase(DB);
      boss = new PgBoss({ connectionString: pgUrl(DB), max: poolMax, useListenNotify: true, schedule: false });
      boss.on('error', (e) => log('pg-boss error', e.message));
      await boss.start();
      await boss.createQueue(QUEUE, { notify: true });
    },
    // scale workload: another process attaches to the same database (no reset, queue exists).
    attachSpec() {
      return {};
    },
    async attach() {
      boss = new PgBoss({ connectionString: pgUrl(DB), max: poolMax, useListenNotify: true, schedule: false });
      boss.on('error', (e) => log('pg-boss error', e.message));
      await boss.start();
    },
    async detach() {
      if (boss) await boss.stop({ graceful: false, close: true, timeout: 5000 });
    },
    async teardown() {
      if (boss) await boss.stop({ graceful: false, close: true, timeout: 5000 });
      await dropDatabase(DB);
    },
    async enqueue(payload) {
      await boss.send(QUEUE, payload);
    },
    async enqueueMany(payloads) {
      await boss.insert(
        QUEUE,
        payloads.map((data) => ({ data })),
      );
    },
    async startWorker(handler) {
      const api = { enqueue: (p) => boss.send(QUEUE, p) };
      workId = await boss.work(
        QUEUE,
        {
          localConcurrency,
          batchSize,
          burstWhenBatchFull: batchSize > 1,
          pollingIntervalSeconds: 0.5,
          notifyPollingIntervalSeconds: 30,
        },
        async (jobs) => {
          await Promise.all(jobs.map((j) => handler(j.data, api)));
        },
      );
    },
    async stopWorker() {
      if (workId) await boss.offWork(QUEUE, { wait: true });
      workId = null;
    },
  };
  return adapter;
}
