// What the execution context costs (issue 10's targets: < 1 µs per run, getTaskContext() < 50 ns),
// beside AsyncLocalStorage itself. Usage: npm run bench:context -- [reads] [runs]
//   1. getTaskContext() from a helper inside a real task run (SQLite in memory), per call;
//      baseline: AsyncLocalStorage#getStore() inside its own run.
//   2. Entering a run's ambient scope (runInAttemptScope: the scope object + AsyncLocalStorage#run)
//      around an async function, per run, minus the same function called bare; baseline: a bare
//      AsyncLocalStorage#run around it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Baton, getTaskContext, type TaskContext } from 'baton';
import { runInAttemptScope } from '../src/context/ambient.js';
import type { AttemptFrame } from '../src/context/ambient-store.js';

const reads = Number(process.argv[2] ?? 10_000_000);
const runs = Number(process.argv[3] ?? 1_000_000);

function helper(): string | undefined {
  return getTaskContext()?.taskRunId;
}

async function timeReads(): Promise<{ getTaskContextNs: number; getStoreNs: number }> {
  const baton = new Baton({ database: ':memory:', logLevel: 'silent' });
  let perCallNs = 0;
  const task = baton.task({ name: 'reads' }, async () => {
    let seen = 0;
    for (let i = 0; i < 100_000; i++) if (helper()) seen++; // warm-up
    const started = process.hrtime.bigint();
    for (let i = 0; i < reads; i++) if (helper()) seen++;
    perCallNs = Number(process.hrtime.bigint() - started) / reads;
    return seen;
  });
  const worker = baton.worker({ name: 'bench', slots: 1, tasks: [task] });
  await worker.start();
  await (await task.enqueue()).result();
  await worker.stop();
  await baton.close();

  const als = new AsyncLocalStorage<{ id: string }>();
  // The same shape as `helper`: a function that reads the store and one property.
  const read = (): string | undefined => als.getStore()?.id;
  const getStoreNs = await als.run({ id: 'x' }, async () => {
    let seen = 0;
    for (let i = 0; i < 100_000; i++) if (read()) seen++; // warm-up
    const started = process.hrtime.bigint();
    for (let i = 0; i < reads; i++) if (read()) seen++;
    const ns = Number(process.hrtime.bigint() - started) / reads;
    return seen > 0 ? ns : Number.NaN;
  });
  return { getTaskContextNs: perCallNs, getStoreNs };
}

async function timeScopes(): Promise<{ scopeUs: number; alsUs: number }> {
  const frame: AttemptFrame = { context: {} as TaskContext, closed: false };
  const als = new AsyncLocalStorage<object>();
  const body = async (): Promise<number> => 1;
  const measure = async (run: () => Promise<number>): Promise<number> => {
    for (let i = 0; i < 50_000; i++) await run(); // warm-up
    const started = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) await run();
    return Number(process.hrtime.bigint() - started) / runs / 1000;
  };
  const bare = await measure(body);
  const scoped = await measure(() => runInAttemptScope(frame, {}, body));
  const plainAls = await measure(() => als.run({}, body));
  return { scopeUs: scoped - bare, alsUs: plainAls - bare };
}

const { getTaskContextNs, getStoreNs } = await timeReads();
const { scopeUs, alsUs } = await timeScopes();
console.log(
  `getTaskContext() from a helper: ${getTaskContextNs.toFixed(1)} ns per call (AsyncLocalStorage#getStore: ${getStoreNs.toFixed(1)} ns)`,
);
console.log(`a run's ambient scope: ${scopeUs.toFixed(2)} µs per run (a bare AsyncLocalStorage#run: ${alsUs.toFixed(2)} µs)`);
