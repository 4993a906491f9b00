/**
 * `baton worker` and `baton dev` as users run them (issue 9): child processes of
 * bin/baton.js on an entry module in a temporary project that imports 'baton'. The
 * worker finishes an in-flight run on SIGTERM and exits 0 (on both stores); `dev`
 * serves the dashboard on ./.baton/dev.db and restarts its worker when the entry
 * changes, so a run started over HTTP afterwards gets the new code's output.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Baton } from 'baton';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor, waitForState } from '../support/wait.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/baton.js');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

interface Cli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** `baton <args>` in `cwd`, running the CLI's sources in one process (tsx loaded, as bin/baton.js does). */
function startCli(args: string[], cwd: string, env: Record<string, string | undefined>): Cli {
  const child = spawn(process.execPath, ['--conditions=baton-source', '--import', TSX, BIN, ...args], {
    cwd,
    // The source CLI, like the entry's `import 'baton'` (--conditions=baton-source), even when dist/ is built.
    env: { ...process.env, BATON_CLI_SOURCE: '1', BATON_HOME: cwd, BATON_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | string>((done) => child.once('exit', (code, signal) => done(code ?? signal ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for the process to exit (bounded); kills it when the bound passes. */
async function exitOf(cli: Cli, timeout = 20_000): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), timeout);
  });
  const result = await Promise.race([cli.exited, bound]);
  clearTimeout(timer);
  if (result === 'timeout') {
    cli.child.kill('SIGKILL');
    throw new Error(`the CLI did not exit within ${timeout} ms\nstdout: ${cli.stdout()}\nstderr: ${cli.stderr()}`);
  }
  return result;
}

/** A temporary project: package.json, node_modules/baton linked to this checkout, and an entry module. */
function project(entry: string): { dir: string; entryPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'baton-cli-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', type: 'module' }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'baton'), 'dir');
  const entryPath = join(dir, 'tasks.ts');
  writeFileSync(entryPath, entry);
  return { dir, entryPath };
}

const SLOW_ENTRY = `import { Baton } from 'baton';

const baton = new Baton();
export const slow = baton.task({ name: 'slow' }, async (input: { ms: number }) => {
  await new Promise((resolve) => setTimeout(resolve, input.ms));
  return 'finished';
});
`;

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(cli: Cli): Cli {
  cleanups.push(() => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  });
  return cli;
}

describeEachStore('baton worker', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
    cleanups.push(() => fixture.cleanup());
  });

  it('serves the tasks the entry exports, and on SIGTERM finishes the running run and exits 0', async () => {
    const { dir } = project(SLOW_ENTRY);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const cli = track(startCli(['worker', 'tasks.ts', '--name', 'cli-worker', '--label', 'zone=a'], dir, fixture.env));
    await waitFor(() => cli.stderr().includes('baton worker: serving slow from tasks.ts'), {
      timeout: 20_000,
      message: 'the worker to start',
    });

    // Enqueued through a task of the same name on another instance: the CLI's worker runs it.
    const slow = baton.task({ name: 'slow' }, async (_input: { ms: number }) => 'not run here');
    const handle = await slow.enqueue({ ms: 1_000 });
    await waitForState(handle, 'Running', { timeout: 10_000 });
    cli.child.kill('SIGTERM');

    expect(await exitOf(cli)).toBe(0);
    expect((await handle.state()).name).toBe('Completed');
    expect(await handle.result()).toBe('finished');
    expect(cli.stderr()).toContain('baton worker: SIGTERM: stopping, finishing 1 running run');
    // One attempt: the run was finished by the stopping worker, not released and run again.
    expect((await handle.attempts()).length).toBe(1);
  }, 60_000);
});

describe('baton worker and dev: bad entries', () => {
  it('exits 2 for a missing entry and for one that exports no task', async () => {
    const { dir } = project('export const nothing = 1;\n');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const missing = track(startCli(['worker', 'nope.ts'], dir, { BATON_DATABASE_URL: join(dir, 'x.db') }));
    expect(await exitOf(missing)).toBe(2);
    expect(missing.stderr()).toContain('error: entry nope.ts: no such file');
    const empty = track(startCli(['worker', 'tasks.ts'], dir, { BATON_DATABASE_URL: join(dir, 'x.db') }));
    expect(await exitOf(empty)).toBe(2);
    expect(empty.stderr()).toContain('error: entry tasks.ts exports no task or workflow');
  }, 60_000);
});

describe('baton dev', () => {
  it('serves the dashboard on ./.baton/dev.db and restarts the worker when the entry changes', async () => {
    const { dir, entryPath } = project(`import { Baton } from 'baton';

const baton = new Baton();
export const greet = baton.task({ name: 'greet' }, async (input: { name: string }) => \`hello \${input.name}, v1\`);
`);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const cli = track(
      startCli(['dev', 'tasks.ts', '--port', '0'], dir, { BATON_DATABASE_URL: undefined, BATON_SCHEMA: undefined }),
    );
    const url = await waitFor(() => /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.stdout())?.[1], {
      timeout: 20_000,
      message: 'the dashboard URL',
    });
    const servings = () => cli.stderr().split('baton worker: serving greet').length - 1;
    await waitFor(() => servings() === 1, { timeout: 20_000, message: 'the first worker to start' });
    expect(existsSync(join(dir, '.baton/dev.db'))).toBe(true);

    const runGreet = async (name: string) => {
      const created = await fetch(`${url}api/v1/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ task: 'greet', input: { name } }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      const run = await waitFor(
        async () => {
          const body = (await (await fetch(`${url}api/v1/runs/${id}`)).json()) as { state: { name: string }; output?: unknown };
          return body.state.name === 'Completed' ? body : undefined;
        },
        { timeout: 10_000, message: `run ${id} to complete` },
      );
      return run.output;
    };
    expect(await runGreet('ada')).toBe('hello ada, v1');

    writeFileSync(entryPath, readFileSync(entryPath, 'utf8').replace('v1', 'v2'));
    await waitFor(() => servings() === 2, { timeout: 20_000, message: 'the worker to restart after the change' });
    expect(cli.stderr()).toContain('baton dev: tasks.ts changed, restarting the worker');
    expect(await runGreet('bob')).toBe('hello bob, v2');

    cli.child.kill('SIGTERM');
    expect(await exitOf(cli)).toBe(0);
    expect(cli.stderr()).toContain('baton worker: stopped');
  }, 90_000);
});
