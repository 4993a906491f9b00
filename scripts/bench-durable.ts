// Durable-task figures on one worker: 3-step durable tasks per second, and the
// worker's memory with 1,000 sleeping runs. Usage: npm run bench:durable -- [N] [database]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Baton } from 'baton';

const n = Number(process.argv[2] ?? 2_000);
const dir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
const database = process.argv[3] ?? join(dir, 'bench.db');

const baton = new Baton({ database, logLevel: 'warn' });
const threeSteps = baton.durableTask({ name: 'three-steps' }, async (i: number, ctx) => {
  const a = await ctx.step('one', async () => i + 1);
  const b = await ctx.step('two', async () => a * 2);
  return ctx.step('three', async () => b + 3);
});
const sleeper = baton.durableTask({ name: 'sleeper' }, async (_: number, ctx) => {
  await ctx.step('before', async () => 1);
  await ctx.sleepFor('1h');
});
const worker = baton.worker({ name: 'bench', slots: 32, tasks: [threeSteps, sleeper] });
await worker.start();

const started = performance.now();
const handles = [];
for (let i = 0; i < n; i += 1000) {
  handles.push(...(await threeSteps.enqueueMany(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ input: i + j })))));
}
await Promise.all(handles.map((h) => h.result()));
const perSec = Math.round((n / (performance.now() - started)) * 1000);

global.gc?.();
const rssBefore = process.memoryUsage().rss;
const sleepers = await sleeper.enqueueMany(Array.from({ length: 1000 }, (_, i) => ({ input: i })));
const store = await baton.store();
const deadline = performance.now() + 120_000;
for (;;) {
  const page = await store.listRuns({ namespace: 'default', statuses: ['Waiting'], taskName: 'sleeper', limit: 1000 });
  if (page.items.length >= sleepers.length || performance.now() > deadline) break;
  await new Promise((r) => setTimeout(r, 100));
}
global.gc?.();
const rssAfter = process.memoryUsage().rss;
await baton.close();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    store: baton.storeKind,
    threeStepTasksPerSec: perSec,
    rssMiBBeforeSleepers: Math.round(rssBefore / 2 ** 20),
    rssMiBWith1000Sleeping: Math.round(rssAfter / 2 ** 20),
    slotsHeldBySleepers: 32 - worker.freeSlots,
  }),
);
