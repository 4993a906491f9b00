// How the API and dashboard hold up with a large store: seeds N runs (default
// 100,000, a tenth of them completed), then times the list routes (median of 20
// calls) and the dashboard's runs page in headless Chromium (first row visible).
// Usage: npm run bench:dashboard -- [N] [database]
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Baton } from 'baton';
import { chromium } from 'playwright-core';

const n = Number(process.argv[2] ?? 100_000);
const url = process.argv[3];
const dir = mkdtempSync(join(tmpdir(), 'baton-bench-dash-'));
const schema = `bench_dash_${process.pid}`;
const baton = new Baton({ database: url ?? join(dir, 'bench.db'), ...(url ? { schema } : {}), logLevel: 'warn' });
const task = baton.task({ name: 'item' }, async (i: number) => i);
const other = baton.task({ name: 'other' }, async (i: number) => i);

const seeding = performance.now();
for (let i = 0; i < n; i += 1000) {
  const t = i % 10_000 === 0 ? other : task;
  await t.enqueueMany(
    Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ input: i + j, options: { tags: { batch: String(i / 1000) } } })),
  );
}
const completed = Math.floor(n / 10);
const worker = baton.worker({ name: 'bench', slots: 64, tasks: [task, other] });
await worker.start();
for (let tries = 0; tries < 6000; tries++) {
  const page = await baton.runs.list({ status: 'Completed', limit: 1000 });
  if (page.items.length >= Math.min(1000, completed)) break;
  await new Promise((r) => setTimeout(r, 50));
}
await worker.stop();
const seedSeconds = (performance.now() - seeding) / 1000;

const { token } = await baton.tokens.create();
const server = await baton.serve({ port: 0 });
const headers = { authorization: `Bearer ${token}` };

async function median(path: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    const response = await fetch(`${server.url}${path}`, { headers });
    await response.text();
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return Math.round((times[10] as number) * 10) / 10;
}

const api = {
  'GET /runs?limit=50': await median('/api/v1/runs?limit=50'),
  'GET /runs?status=COMPLETED&limit=50': await median('/api/v1/runs?status=COMPLETED&limit=50'),
  'GET /runs?task=other&limit=50': await median('/api/v1/runs?task=other&limit=50'),
  'GET /runs?tag=batch:7&limit=50': await median('/api/v1/runs?tag=batch:7&limit=50'),
  'GET /stats?window=1h': await median('/api/v1/stats?window=1h'),
  'GET /workers': await median('/api/v1/workers'),
};

let pageLoadMs: number | undefined;
if (existsSync('/usr/bin/chromium')) {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const page = await browser.newPage();
  await page.goto(`${server.url}/`);
  await page.getByTestId('login-token').fill(token);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('run-row').first().waitFor();
  const loads: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    await page.goto(`${server.url}/`);
    await page.getByTestId('run-row').first().waitFor();
    loads.push(performance.now() - started);
  }
  loads.sort((a, b) => a - b);
  pageLoadMs = Math.round(loads[2] as number);
  await browser.close();
}

await server.close();
if (url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client(url);
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
}
await baton.close();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      runs: n,
      store: url ? 'postgres' : 'sqlite',
      seedSeconds: Math.round(seedSeconds),
      apiMedianMs: api,
      dashboardRunsPageMs: pageLoadMs,
    },
    null,
    1,
  ),
);
