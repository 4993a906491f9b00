// Flow-control cost and fairness on one worker. Drains N no-op runs three ways:
// plain, with a concurrency key (K keys, max M each), and with group-round-robin
// where one key holds almost everything; prints runs/s and where the small key's
// run started. Usage: npm run bench:flow -- [N] [database]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Baton, type TaskOptions } from 'baton';

const n = Number(process.argv[2] ?? 10_000);
const url = process.argv[3];
const KEYS = 100;
const MAX = 4;

async function drain(
  label: string,
  options: Omit<TaskOptions<{ key: string }, void>, 'name' | 'input'>,
  keyOf: (i: number) => string,
) {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-flow-'));
  const schema = `bench_flow_${process.pid}_${label.replace(/\W/g, '').slice(0, 12)}`;
  const baton = new Baton({ database: url ?? join(dir, 'bench.db'), schema: url ? schema : undefined, logLevel: 'warn' });
  const order: string[] = [];
  const task = baton.task({ name: 'work', ...options }, async (input: { key: string }) => {
    order.push(input.key);
  });
  for (let i = 0; i < n; i += 1000) {
    await task.enqueueMany(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ input: { key: keyOf(i + j) } })));
  }
  const started = performance.now();
  const worker = baton.worker({ name: 'bench', slots: 32, tasks: [task] });
  await worker.start();
  const deadline = started + 300_000;
  while (order.length < n && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - started) / 1000;
  await worker.stop();
  if (url) {
    const { default: pg } = await import('pg');
    const client = new pg.Client(url);
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
  await baton.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    label,
    runsPerSec: Math.round(order.length / seconds),
    completed: order.length,
    smallKeyStartedAt: order.indexOf('small'),
  };
}

const results = [
  await drain('plain', {}, (i) => `k${i % KEYS}`),
  await drain(
    `concurrency ${KEYS} keys max ${MAX}`,
    { concurrency: { key: (input) => input.key, max: MAX } },
    (i) => `k${i % KEYS}`,
  ),
  await drain(
    'round-robin one big key + one small',
    { concurrency: { key: (input) => input.key, max: 32, strategy: 'group-round-robin' } },
    (i) => (i === n - 1 ? 'small' : 'big'),
  ),
  await drain('rate limit 5000/s', { rateLimits: [{ key: 'api', limit: 5000, per: '1s' }] }, (i) => `k${i % KEYS}`),
];
console.log(JSON.stringify({ n, store: url ? 'postgres' : 'sqlite', results }, null, 1));
