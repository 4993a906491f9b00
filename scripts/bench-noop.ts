// No-op throughput on one worker: enqueue N runs in bulk, then time how fast one
// worker drains them. Usage: npm run bench:noop -- [N] [slots] [database]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Baton } from 'baton';

const n = Number(process.argv[2] ?? 20_000);
const slots = Number(process.argv[3] ?? 32);
const dir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
const database = process.argv[4] ?? join(dir, 'bench.db');

const baton = new Baton({ database, logLevel: 'warn' });
let first = 0;
let last = 0;
let done = 0;
const noop = baton.task({ name: 'noop' }, async (_input: { i: number }) => {
  if (first === 0) first = performance.now();
  done++;
  last = performance.now();
});

const enqueueStart = performance.now();
for (let i = 0; i < n; i += 1000) {
  await noop.enqueueMany(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ input: { i: i + j } })));
}
const enqueueMs = performance.now() - enqueueStart;

const worker = baton.worker({ name: 'bench', slots, tasks: [noop] });
await worker.start();
const deadline = performance.now() + 300_000;
const store = await baton.store();
for (;;) {
  const page = await store.listRuns({ namespace: 'default', statuses: ['Pending', 'Running'], limit: 1 });
  if (page.items.length === 0 || performance.now() > deadline) break;
  await new Promise((r) => setTimeout(r, 50));
}
await baton.close();
rmSync(dir, { recursive: true, force: true });
const drainMs = last - first;
console.log(
  JSON.stringify({
    n,
    slots,
    store: baton.storeKind,
    enqueuePerSec: Math.round((n / enqueueMs) * 1000),
    drainPerSec: Math.round((done / drainMs) * 1000),
    completed: done,
  }),
);
