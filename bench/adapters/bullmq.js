// BullMQ adapter. Variants:
//   (default) "redis": Redis backend. NOTE: the Redis started for this benchmark has persistence
//             OFF (--save "" --appendonly no), so these are NOT durable numbers. Reset = FLUSHDB.
//   "postgres": BullMQ 6's PostgreSQL backend (createPostgresBackend; LISTEN/NOTIFY for
//             blocking fetch). Reset = fresh database.
// Both: Worker concurrency C, removeOnComplete/removeOnFail {count:0} on the worker (the
// documented production recommendation), queue.addBulk() for bulk, queue.add() for single.
import { createPostgresBackend, FlowProducer, Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { dropDatabase, pgUrl, pkgVersion, REDIS_URL, resetDatabase } from '../src/util.js';

const QUEUE = 'bench';
const DB = 'bench_bullmq';

export default function create({ variant = 'redis', concurrency = 32 } = {}) {
  const pgMode = variant === 'postgres';
  const poolMax = concurrency + 2;
  let conn, queue, worker;
  const connect = (migrate = false) =>
    pgMode
      ? [{ connection: { connectionString: pgUrl(DB), max: poolMax, migrate } }, createPostgresBackend]
      : [{ connection: new IORedis(REDIS_URL, { maxRetriesPerRequest: null }) }];
  let flowDone = null;
  const adapter = {
    name: pgMode ? 'bullmq:postgres' : 'bullmq',
    version: pkgVersion('bullmq'),
    settings: {
      workerConcurrency: concurrency,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
      bulk: 'queue.addBulk()',
      single: 'queue.add()',
      chainStep: 'queue.add() from processor',
      backend: pgMode
        ? `postgres (createPostgresBackend, pool max ${poolMax} per Queue/Worker)`
        : 'redis 7.0 local, persistence off',
    },
    async setup() {
      if (pgMode) {
        await resetDatabase(DB);
      } else {
        conn = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
        await conn.flushdb();
      }
      const [opts, factory] = pgMode ? connect(true) : [{ connection: conn }];
      queue = new Queue(QUEUE, opts, factory);
      await queue.waitUntilReady();
    },
    // scale workload: another process attaches to the same Redis db / database (no reset).
    attachSpec() {
      return {};
    },
    async attach() {
      if (!pgMode) conn = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
      const [opts, factory] = pgMode ? connect(false) : [{ connection: conn }];
      queue = new Queue(QUEUE, opts, factory);
      await queue.waitUntilReady();
    },
    async detach() {
      if (worker) await worker.close(true).catch(() => {});
      if (queue) await queue.close().catch(() => {});
      if (conn) conn.disconnect();
    },
    async teardown() {
      if (worker) await worker.close(true).catch(() => {});
      if (queue) await queue.close().catch(() => {});
      if (conn) {
        await conn.flushdb().catch(() => {});
        conn.disconnect();
      }
      if (pgMode) await dropDatabase(DB);
    },
    async enqueue(payload) {
      await queue.add('job', payload);
    },
    async enqueueMany(payloads) {
      await queue.addBulk(payloads.map((data) => ({ name: 'job', data })));
    },
    async startWorker(handler) {
      const api = { enqueue: (p) => queue.add('job', p) };
      const [opts, factory] = connect();
      worker = new Worker(
        QUEUE,
        async (job) => handler(job.data, api),
        {
          ...opts,
          concurrency,
          removeOnComplete: { count: 0 },
          removeOnFail: { count: 0 },
        },
        factory,
      );
      worker.on('error', (e) => console.error('[bullmq]', e.message));
      await worker.waitUntilReady();
    },
    async stopWorker() {
      if (worker) {
        const c = worker.opts.connection;
        await worker.close();
        if (c && typeof c.disconnect === 'function') c.disconnect();
      }
      worker = null;
    },
  };
  // Fan-out (Redis only): a BullMQ flow (FlowProducer.add), one parent job with N children on the
  // same queue; BullMQ processes the parent once all children have completed.
  if (!pgMode)
    adapter.fanout = {
      mode: 'FlowProducer: parent job with N children (parent runs after all complete)',
      async startWorker(fn) {
        await adapter.startWorker(async (p) => {
          if (p.fanParent) flowDone?.();
          else await fn(p);
        });
      },
      async run(n) {
        const flow = new FlowProducer({ connection: conn });
        const done = new Promise((r) => {
          flowDone = r;
        });
        await flow.add({
          name: 'parent',
          queueName: QUEUE,
          data: { fanParent: true },
          children: Array.from({ length: n }, (_, i) => ({ name: 'job', queueName: QUEUE, data: { c: i } })),
        });
        await done;
        await flow.close();
      },
      async stopWorker() {
        await adapter.stopWorker();
      },
    };
  return adapter;
}
