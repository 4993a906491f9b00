// DBOS Transact adapter (@dbos-inc/dbos-sdk). A "job" is a queued workflow whose body is the
// handler (no steps); the chain workload uses a native workflow with 3 DBOS.runStep() steps.
// Settings: one WorkflowQueue with workerConcurrency C and minPollingIntervalMs (env
// DBOS_POLL_MS, default 50; the library default is 1000), systemDatabasePoolSize C+8,
// useListenNotify on. Enqueue = DBOS.startWorkflow(fn, {queueName})(payload): no bulk API exists.
// The queue is registered in startWorker(), so jobs enqueued before it just wait (ENQUEUED).
// Reset = DBOS.shutdown(), drop + re-create the system database, DBOS.launch() again.
import { DBOS } from '@dbos-inc/dbos-sdk';
import { dropDatabase, env, pgUrl, pkgVersion, pool, resetDatabase } from '../src/util.js';

const DB = 'bench_dbos';
const POLL_MS = env('DBOS_POLL_MS', 50);
let queueSeq = 0;
let handler = async () => {};
let stepFn = async () => {};
const api = { enqueue: (p) => DBOS.startWorkflow(jobWf, { queueName: current.queue })(p) };
const current = { queue: 'bench' };

// Registration must happen once per process, before the first DBOS.launch().
const jobWf = DBOS.registerWorkflow(
  async (payload) => {
    await handler(payload, api);
  },
  { name: 'benchJob' },
);
const chainWf = DBOS.registerWorkflow(
  async (payload) => {
    for (let s = 1; s <= 3; s++) await DBOS.runStep(() => stepFn(payload, s), { name: `step${s}` });
  },
  { name: 'benchChain' },
);

// Fan-out: a parent workflow (started directly) starts N child workflows on the queue and awaits
// every handle's getResult() (DBOS child workflows). Durable sleep: a workflow in DBOS.sleep(1h).
let childFn = async () => {};
let sleepingCount = 0;
const fanChildWf = DBOS.registerWorkflow(
  async (payload) => {
    await childFn(payload);
  },
  { name: 'benchFanChild' },
);
const fanParentWf = DBOS.registerWorkflow(
  async (n) => {
    const handles = [];
    for (let i = 0; i < n; i++) handles.push(await DBOS.startWorkflow(fanChildWf, { queueName: current.queue })({ i }));
    await Promise.all(handles.map((h) => h.getResult()));
    return n;
  },
  { name: 'benchFanParent' },
);
const sleeperWf = DBOS.registerWorkflow(
  async () => {
    sleepingCount++;
    await DBOS.sleep(3600000);
  },
  { name: 'benchSleeper' },
);

export default function create({ concurrency = 32 } = {}) {
  let launched = false;
  const poolSize = concurrency + 8;
  const startQueue = async () => {
    await DBOS.registerQueue(current.queue, { workerConcurrency: concurrency, minPollingIntervalMs: POLL_MS });
  };
  const adapter = {
    name: 'dbos',
    version: pkgVersion('@dbos-inc/dbos-sdk'),
    settings: {
      workerConcurrency: concurrency,
      minPollingIntervalMs: POLL_MS,
      systemDatabasePoolSize: poolSize,
      useListenNotify: true,
      single: 'DBOS.startWorkflow(wf,{queueName})()',
      bulk: 'none (parallel singles)',
      job: 'queued workflow, no steps',
      chain: 'one workflow, 3 x DBOS.runStep()',
    },
    async setup() {
      await resetDatabase(DB);
      current.queue = `bench${++queueSeq}`;
      DBOS.setConfig({
        name: 'peerbench',
        systemDatabaseUrl: pgUrl(DB),
        systemDatabasePoolSize: poolSize,
        useListenNotify: true,
        logLevel: 'error',
      });
      await DBOS.launch();
      launched = true;
    },
    async teardown() {
      if (launched) await DBOS.shutdown();
      launched = false;
      await dropDatabase(DB);
    },
    async enqueue(payload) {
      await DBOS.startWorkflow(jobWf, { queueName: current.queue })(payload);
    },
    async startWorker(h) {
      handler = h;
      await startQueue();
    },
    async stopWorker() {
      handler = async () => {};
    },
    fanout: {
      mode: 'parent workflow starts N child workflows on the queue, awaits getResult()',
      async startWorker(fn) {
        childFn = fn;
        await startQueue();
      },
      async run(n) {
        const h = await DBOS.startWorkflow(fanParentWf)(n);
        await h.getResult();
      },
      async stopWorker() {
        childFn = async () => {};
      },
    },
    durableSleep: {
      async startWorker() {
        sleepingCount = 0;
      },
      async enqueue(n) {
        // started directly (not on the queue: a queued sleeper would hold one of its 32 slots)
        await pool(n, concurrency, () => DBOS.startWorkflow(sleeperWf)());
      },
      async sleeping() {
        return sleepingCount;
      },
      async stopWorker() {},
    },
    workflows: {
      async startWorker(fn) {
        stepFn = fn;
        await startQueue();
      },
      async enqueue(payload) {
        await DBOS.startWorkflow(chainWf, { queueName: current.queue })(payload);
      },
      async stopWorker() {
        stepFn = async () => {};
      },
    },
  };
  return adapter;
}
