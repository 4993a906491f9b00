/**
 * The examples are executed as users run them (a child process on a fresh
 * SQLite file), so they cannot rot: the quickstart is what `npm start` runs.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Baton } from 'baton';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);

describe('examples', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'baton-example-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function runExample(path: string): Promise<string> {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--conditions=baton-source', path], {
      env: { ...process.env, BATON_DATABASE_URL: join(dir, 'example.db'), BATON_EXAMPLE_SERVE: '0' },
      timeout: 60_000,
    });
    return stdout;
  }

  it('quickstart (npm start): retries, checkpoints, child runs from tags, refused input', async () => {
    const out = await runExample('examples/quickstart/main.ts');
    expect(out).toContain('states: Pending → Running → AwaitingRetry → Retrying → Completed');
    expect(out).toMatch(/NonRetryableError: cannot deliver to nobody@example\.invalid/);
    expect(out).toContain('log (attempt 1): retry 1: resuming at page 3 (10 items already synced)');
    expect(out).toContain('"title":"Weekly report for team growth, 2026-W47"');
    expect(out).toMatch(/invalid input is refused before a run exists:\n {2}input of task "send-email" is invalid: to: /);
    expect(out).toContain('lifespan: connections closed');
  }, 90_000);

  it('durable: an approval flow waits for its decision event or times out, and records the refund once', async () => {
    const out = await runExample('examples/durable/main.ts');
    expect(out).toMatch(/waiting: waiting for signal "approval" \(event "refund:decided", until .*\); free slots: 4/);
    expect(out).toMatch(/approved: o-\d+: refunded 30/);
    expect(out).toMatch(/timed out: o-\d+-late: no decision in time, escalated/);
  }, 90_000);

  it('workflows: the order DAG with a skip and a failure, and a 100-child fan-out', async () => {
    const out = await runExample('examples/workflows/main.ts');
    expect(out).toContain('ship":"shipped 3 items of o-1 (ch_o-1)"');
    expect(out).toContain('tasks: charge=Skipped on-failure=Skipped reserve=Completed ship=Completed validate=Completed');
    expect(out).toContain('o-3: failed:');
    expect(out).toContain('tasks: charge=Failed on-failure=Completed reserve=Completed ship=Cancelled validate=Completed');
    expect(out).toContain('price-catalog: {"items":100,"total":14850}');
    expect(out).toContain('event-triggered: {"welcome":"welcome mail to ada@example.com (source: landing-page)"}');
    expect(out).toContain('stream: {"batch":1,"rows":100}\nstream: {"batch":2,"rows":200}\nstream: {"batch":3,"rows":300}');
    expect(out).toContain('scheduled: a one-off run of price-item in 300 ms');
    expect(out).toContain('fired: yes');
  }, 90_000);

  it('express-app: POST /orders enqueues a run carrying the request tags; the dashboard is mounted at /baton', async () => {
    const database = join(dir, 'example.db');
    const server = spawn(process.execPath, ['--import', 'tsx', '--conditions=baton-source', 'examples/express-app/server.ts'], {
      env: { ...process.env, BATON_DATABASE_URL: database, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    server.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    server.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise((resolve) => server.once('exit', resolve));
    const baton = new Baton({ database, logLevel: 'silent' });
    try {
      const url = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], {
        timeout: 30_000,
        message: 'the example server to listen',
      });
      const response = await fetch(`${url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'baton-tags': 'source=crm' },
        body: JSON.stringify({ sku: 'book-42', quantity: 2 }),
      });
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as { id: string };
      const run = await waitFor(
        async () =>
          (await baton.runs.list({ task: 'place-order' })).items.find((r) => r.id === id && r.state.name === 'Completed'),
        { timeout: 10_000, message: `run ${id} to complete` },
      );
      expect(run.tags).toEqual({ source: 'crm', route: 'POST /orders' });
      const dashboard = await fetch(`${url}/baton`, { redirect: 'manual' });
      expect([dashboard.status, dashboard.headers.get('location')]).toEqual([308, '/baton/']);
    } finally {
      server.kill('SIGTERM');
      const killer = setTimeout(() => server.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      await baton.close();
    }
  }, 90_000);
});
