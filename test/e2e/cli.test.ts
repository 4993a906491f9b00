/**
 * The `baton` CLI end to end, on both stores: every command runs as a child
 * process (`node bin/baton.js …`, the TypeScript source through tsx) against the
 * fixture's database, while a worker in this process serves the tasks. Asserts
 * exit codes (DESIGN.md §2.12), `--json` shapes (the HTTP API's, ISO times) and
 * the messages people see; `runs logs --follow` follows a live run to its end.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Baton, RunHandle, TaskContext, Worker } from 'baton';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor, waitForState } from '../support/wait.js';

const BIN = join(import.meta.dirname, '../../bin/baton.js');
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const STACK = /\n\s+at /;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Running {
  /** Everything written to stdout so far. */
  stdout(): string;
  exited: Promise<Result>;
  hasExited(): boolean;
}

/**
 * Starts `baton <args>` with `env` (the fixture's database). `node bin/baton.js` runs the
 * source in a second node process with tsx loaded; most calls start that process directly
 * (`node --conditions=baton-source --import tsx bin/baton.js`, which bin/baton.js then runs
 * in place), saving a process start each; `viaLauncher` goes through the launcher.
 */
function start(args: string[], env: Record<string, string>, options: { stdin?: string; viaLauncher?: boolean } = {}): Running {
  const node = options.viaLauncher ? [] : ['--conditions=baton-source', '--import', 'tsx'];
  const child = spawn(process.execPath, [...node, BIN, ...args], {
    env: { ...process.env, BATON_CLI_SOURCE: '1', BATON_DATABASE_URL: '', BATON_SCHEMA: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let hasExited = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(options.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exited = new Promise<Result>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      hasExited = true;
      resolve({ code, stdout, stderr });
    });
  });
  return { stdout: () => stdout, exited, hasExited: () => hasExited };
}

function json<T = Record<string, unknown>>(result: Result): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\nstderr: ${result.stderr}`);
  }
}

describeEachStore('CLI', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;
  let worker: Worker;
  let gate = deferred<void>();
  const targets = new Map<string, { enqueue(input: unknown): Promise<RunHandle> }>();
  const cli = (...args: string[]) => start(args, fixture.env).exited;

  beforeEach(async () => {
    gate = deferred<void>();
    fixture = await createFixture(backend);
    baton = fixture.baton();
    const greet = baton.task(
      { name: 'greet', input: z.object({ name: z.string().min(1) }), retries: 0 },
      async (input: { name: string }, ctx: TaskContext) => {
        await ctx.log(`greeting ${input.name}`);
        await ctx.putStream('chunk-1');
        await ctx.putStream({ n: 2 });
        return `hello ${input.name}`;
      },
    );
    const boom = baton.task({ name: 'boom', retries: 0 }, async () => {
      throw new Error('kaboom');
    });
    const gated = baton.task({ name: 'gated' }, async (_input: unknown, ctx: TaskContext) => {
      await ctx.log('before the gate');
      await gate.promise;
      await ctx.log({ step: 'after the gate' });
      await ctx.log('last line', {}, { level: 'warn' });
      return 'done';
    });
    const stuck = baton.task({ name: 'stuck', retries: 0 }, async (_input: unknown, ctx: TaskContext) => {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    });
    let failOnce = true;
    const resumable = baton.durableTask({ name: 'resumable', retries: 0 }, async (_input: unknown, ctx) => {
      const first = await ctx.step('first', async () => 'recorded once');
      if (failOnce) {
        failOnce = false;
        throw new Error('deploy the fix, then resume');
      }
      return first;
    });
    const pipeline = baton.workflow({ name: 'pipeline' });
    const first = pipeline.task({ name: 'first' }, async () => 1);
    pipeline.task({ name: 'second', parents: [first] }, async (_input, ctx) => ctx.parentOutput(first) + 1);
    for (const target of [greet, boom, gated, stuck, resumable, pipeline]) {
      targets.set(target.name, target as unknown as { enqueue(input: unknown): Promise<RunHandle> });
    }
    worker = baton.worker({
      name: 'w',
      slots: 4,
      // A cancellation from a CLI process reaches this worker at its next heartbeat (lease / 3) on SQLite.
      lease: '1s',
      pollInterval: '20ms',
      shutdownTimeout: '200ms',
      tasks: [greet, boom, gated, stuck, resumable, pipeline],
    });
    await worker.start();
  });

  afterEach(async () => {
    gate.resolve();
    await worker.stop();
    await fixture.cleanup();
  });

  it('run waits for the output (text, --json), --detach returns at once; failures exit 1, unknown tasks and bad JSON 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-cli-'));
    try {
      writeFileSync(join(dir, 'input.json'), '{"name": "file"}');
      const [text, asJson, fromFile, workflow, failed, unknown, malformed, invalid, detached, keyed] = await Promise.all([
        cli('run', 'greet', '--input', '{"name":"ada"}'),
        cli('run', 'greet', '--input', '{"name":"bob"}', '--json', '--tag', 'team=cli'),
        cli('run', 'greet', '--input', `@${join(dir, 'input.json')}`),
        cli('run', 'pipeline', '--workflow', '--json'),
        cli('run', 'boom'),
        cli('run', 'nope', '--input', '{}'),
        cli('run', 'greet', '--input', '{"name":}'),
        cli('run', 'greet', '--input', '{"name":""}', '--json'),
        cli('run', 'greet', '--input', '{"name":"later"}', '--detach', '--json'),
        cli('run', 'greet', '--input', '{"name":"once"}', '--idempotency-key', 'k1', '--json'),
      ]);
      expect(text).toMatchObject({ code: 0, stdout: 'hello ada\n' });
      expect(text.stderr).toMatch(/Completed/);
      expect(asJson.code).toBe(0);
      const run = json<{ id: string; state: Record<string, unknown>; output: unknown }>(asJson);
      expect(run).toEqual({
        id: expect.any(String),
        state: expect.objectContaining({ type: 'COMPLETED', name: 'Completed', output: 'hello bob' }),
        output: 'hello bob',
      });
      expect(run.state.timestamp).toMatch(ISO);
      expect((await baton.runs.list({ tags: { team: 'cli' } })).items.map((r) => r.id)).toEqual([run.id]);
      expect(fromFile).toMatchObject({ code: 0, stdout: 'hello file\n' });
      expect(workflow.code).toBe(0);
      expect(json(workflow)).toMatchObject({ state: { name: 'Completed' }, output: { first: 1, second: 2 } });

      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/ended Failed: Error: kaboom/);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('unknown task "nope"');
      expect(malformed.code).toBe(2);
      expect(malformed.stderr).toContain('--input is not valid JSON: unexpected "}" at line 1, column 9 (position 8)');
      // Input the worker's schema refuses: the run fails (exit 1), with the field named in its state.
      expect(invalid.code).toBe(1);
      expect(JSON.stringify(json(invalid))).toMatch(/name/);
      for (const result of [failed, unknown, malformed, invalid]) expect(result.stderr).not.toMatch(STACK);

      expect(detached.code).toBe(0);
      const started = json<{ id: string; outcome: string; state: { name: string } }>(detached);
      expect(started.outcome).toBe('created');
      expect(await (await baton.runs.get(started.id)).result()).toBe('hello later');

      // An idempotency key: the same input returns the first run, another input is refused.
      const [repeat, conflict] = await Promise.all([
        cli('run', 'greet', '--input', '{"name":"once"}', '--idempotency-key', 'k1', '--detach', '--json'),
        cli('run', 'greet', '--input', '{"name":"twice"}', '--idempotency-key', 'k1'),
      ]);
      expect(json(repeat)).toMatchObject({ id: json<{ id: string }>(keyed).id, outcome: 'deduplicated' });
      expect(conflict.code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs list, show, cancel, retry, resume and replay', async () => {
    const greeted = await enqueue('greet', { name: 'ada' });
    const stuck = await enqueue('stuck');
    const resumable = await enqueue('resumable');
    await waitForState(stuck, 'Running');
    await waitForState(resumable, 'Failed');

    const [list, filtered, page, show, showText, cancelled, missing, badStatus] = await Promise.all([
      cli('runs', 'list', '--json'),
      cli('runs', 'list', '--json', '--task', 'greet', '--status', 'COMPLETED'),
      cli('runs', 'list', '--json', '--limit', '1'),
      cli('runs', 'show', greeted.id, '--json'),
      cli('runs', 'show', greeted.id),
      cli('runs', 'cancel', stuck.id, '--reason', 'from the CLI test', '--json'),
      cli('runs', 'show', 'no-such-run'),
      cli('runs', 'list', '--status', 'Finished'),
    ]);
    const items = json<{ items: Record<string, unknown>[] }>(list).items;
    expect(items.map((r) => r.id)).toEqual([resumable.id, stuck.id, greeted.id]);
    expect(items[2]).toMatchObject({ id: greeted.id, taskName: 'greet', workflowName: 'greet', attempt: 0, tags: {} });
    expect(items[2]?.createdAt).toMatch(ISO);
    expect(json<{ items: { id: string }[] }>(filtered).items.map((r) => r.id)).toEqual([greeted.id]);
    expect(json(page)).toMatchObject({ items: [{ id: resumable.id }], nextCursor: expect.any(String) });
    const detail = json<Record<string, unknown>>(show);
    expect(detail).toMatchObject({
      id: greeted.id,
      kind: 'task',
      state: { type: 'COMPLETED', name: 'Completed' },
      input: { name: 'ada' },
      output: 'hello ada',
      children: [],
      attempts: [{ attempt: 0, epoch: 1, outcome: 'completed' }],
    });
    expect((detail.states as { name: string }[]).map((s) => s.name)).toEqual(['Pending', 'Running', 'Completed']);
    expect(showText.code).toBe(0);
    expect(showText.stdout).toMatch(/state\s+Completed/);
    expect(showText.stdout).toMatch(/attempts\n/);
    expect(cancelled.code).toBe(0);
    expect(['Cancelling', 'Cancelled']).toContain(json<{ state: { name: string } }>(cancelled).state.name);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no run with id no-such-run');
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toContain('"Finished" is not a state name or type');

    await waitForState(stuck, 'Cancelled', { timeout: 15_000 });
    const [retried, resumed, replayed, notRetryable] = await Promise.all([
      cli('runs', 'retry', stuck.id, '--json'),
      cli('runs', 'resume', resumable.id),
      cli('runs', 'replay', greeted.id, '--json'),
      cli('runs', 'retry', greeted.id),
    ]);
    expect(retried.code).toBe(0);
    expect(json(retried)).toMatchObject({ id: stuck.id, state: { attempt: 1 } });
    expect(resumed).toMatchObject({ code: 0, stdout: expect.stringContaining(`run ${resumable.id}: resuming`) });
    // Resumed from its recorded step: it ran once, on the first attempt.
    expect(await resumable.result()).toBe('recorded once');
    const steps = json<{ steps: { name: string; attempt: number }[] }>(await cli('runs', 'show', resumable.id, '--json')).steps;
    expect(steps.filter((s) => s.name === 'first#1')).toEqual([expect.objectContaining({ attempt: 0 })]);
    const replay = json<{ id: string; sourceRunId: string }>(replayed);
    expect(replay.sourceRunId).toBe(greeted.id);
    expect(await (await baton.runs.get(replay.id)).result()).toBe('hello ada');
    expect(notRetryable.code).toBe(2);
    expect(notRetryable.stderr).toMatch(/^error: .*Completed/m);
    await (await baton.runs.get(stuck.id)).cancel();
  });

  it('runs logs --follow follows a live run until it ends; logs and stream as JSON', async () => {
    const greeted = await enqueue('greet', { name: 'ada' });
    await greeted.result();
    const gated = await enqueue('gated');
    await waitFor(async () => (await gated.logs()).length === 1);

    const following = start(['runs', 'logs', gated.id, '--follow'], fixture.env);
    await waitFor(() => following.stdout().includes('before the gate'), { timeout: 20_000 });
    expect(following.hasExited()).toBe(false);
    gate.resolve();
    const followed = await following.exited;
    expect(followed.code).toBe(0);
    const lines = followed.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ info {2}before the gate$/);
    expect(lines[1]).toMatch(/info {2}\{"step":"after the gate"\}$/);
    expect(lines[2]).toMatch(/warn {2}last line$/);

    const [logs, followedJson, stream, streamText, workflowLogs] = await Promise.all([
      cli('runs', 'logs', greeted.id, '--json'),
      cli('runs', 'logs', gated.id, '--json', '--follow'),
      cli('runs', 'stream', greeted.id, '--json'),
      cli('runs', 'stream', greeted.id, '--follow'),
      cli('runs', 'logs', (await enqueue('pipeline')).id),
    ]);
    expect(json(logs)).toEqual({
      items: [{ time: expect.stringMatching(ISO), level: 'info', message: 'greeting ada', attempt: 0 }],
    });
    expect(
      followedJson.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line).message),
    ).toEqual(['before the gate', '{"step":"after the gate"}', 'last line']);
    expect(
      stream.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { seq: 1, data: 'chunk-1' },
      { seq: 2, data: { n: 2 } },
    ]);
    expect(streamText).toMatchObject({ code: 0, stdout: 'chunk-1\n{"n":2}\n' });
    expect(workflowLogs).toMatchObject({ code: 0, stdout: '' });
  });

  it('events, schedules, workers, tokens, migrate and doctor', async () => {
    const [pushed, badPayload, schedule, unknownTarget, badCron, workers, workersText, token, migrated, doctor] =
      await Promise.all([
        cli('events', 'push', 'order:created', '--payload', '{"id":7}', '--metadata', '{"source":"cli"}', '--json'),
        cli('events', 'push', 'order:created', '--payload', '[1,'),
        cli('schedules', 'create', '--task', 'greet', '--cron', '0 * * * *', '--input', '{"name":"cron"}', '--json'),
        cli('schedules', 'create', '--task', 'gret', '--cron', '* * * * *'),
        cli('schedules', 'create', '--task', 'greet', '--cron', 'every day'),
        cli('workers', '--json'),
        cli('workers'),
        cli('tokens', 'create', '--namespace', 'shop', '--namespace', 'ops', '--scope', 'read', '--name', 'ci', '--json'),
        cli('migrate', '--json'),
        cli('doctor', '--json'),
      ]);
    expect(json(pushed)).toMatchObject({ key: 'order:created', payload: { id: 7 }, metadata: { source: 'cli' } });
    expect(json<{ time: string }>(pushed).time).toMatch(ISO);
    expect(badPayload.code).toBe(2);
    expect(badPayload.stderr).toContain('--payload is not valid JSON: unexpected end of input at line 1, column 4 (position 3)');
    const events = json<{ items: { key: string }[] }>(await cli('events', 'list', '--key', 'order:created', '--json'));
    expect(events.items.map((e) => e.key)).toEqual(['order:created']);

    const created = json<{ id: string; kind: string; target: string; cron: string; timezone: string; nextFireAt: string }>(
      schedule,
    );
    expect(created).toMatchObject({ kind: 'cron', target: 'greet', cron: '0 * * * *', timezone: 'UTC' });
    expect(created.nextFireAt).toMatch(ISO);
    expect(unknownTarget.code).toBe(2);
    expect(unknownTarget.stderr).toContain(
      'unknown task "gret": no task of that name is registered in namespace "default"; did you mean "greet"?',
    );
    expect(badCron.code).toBe(2);
    expect(json<{ items: { id: string }[] }>(await cli('schedules', 'list', '--json')).items.map((s) => s.id)).toEqual([
      created.id,
    ]);
    expect((await cli('schedules', 'delete', created.id)).code).toBe(0);
    expect(await cli('schedules', 'delete', created.id)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no schedule'),
    });

    expect(json(workers)).toMatchObject({
      items: [{ name: 'w', live: true, slots: 4, slotsInUse: 0, taskNames: expect.arrayContaining(['greet', 'boom']) }],
    });
    expect(workersText.stdout).toMatch(/^NAME\s+HOST\s+LIVE\s+SLOTS\s+TASKS/);
    expect(workersText.stdout).toMatch(/\nw\s+\S+\s+yes\s+0\/4\s+/);

    const { id: tokenId, token: secret } = json<{ id: string; token: string }>(token);
    expect(secret).toMatch(/^baton_/);
    expect((await baton.tokens.verify(secret))?.namespaces).toEqual(['shop', 'ops']);
    expect(json(await cli('tokens', 'list', '--json'))).toMatchObject({
      items: [{ id: tokenId, name: 'ci', scope: 'read', namespaces: ['shop', 'ops'] }],
    });
    expect((await cli('tokens', 'revoke', tokenId)).code).toBe(0);
    expect(await baton.tokens.verify(secret)).toBeUndefined();
    expect((await cli('tokens', 'revoke', tokenId)).code).toBe(2);

    expect(json(migrated)).toMatchObject({ applied: 0 });
    const report = json<{ ok: boolean; checks: { name: string; status: string }[] }>(doctor);
    expect(doctor.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(Object.fromEntries(report.checks.map((c) => [c.name, c.status]))).toMatchObject({
      settings: 'ok',
      database: 'ok',
      migrations: 'ok',
      clock: 'ok',
      workers: 'ok',
    });
  });

  it('prune deletes ended runs with their records and keeps the rest; --dry-run only counts', async () => {
    const ended = await Promise.all([enqueue('greet', { name: 'a' }), enqueue('pipeline'), enqueue('boom')]);
    await Promise.all(ended.map((handle) => handle.result().catch(() => undefined)));
    const stuck = await enqueue('stuck');
    await waitForState(stuck, 'Running');

    const [recent, dryRun, bad] = await Promise.all([
      cli('prune', '--older-than', '1h', '--json'),
      cli('prune', '--older-than', '0s', '--dry-run', '--json'),
      cli('prune', '--older-than', 'a while'),
    ]);
    expect(json(recent)).toMatchObject({ count: 0, dryRun: false });
    // greet 1 + the workflow run and its 2 tasks + boom 1
    expect(json(dryRun)).toMatchObject({ count: 5, dryRun: true, finishedBefore: expect.stringMatching(ISO) });
    expect(bad.code).toBe(2);
    expect((await baton.runs.list({ limit: 100 })).items).toHaveLength(6);

    const pruned = await cli('prune', '--older-than', '0s');
    expect(pruned).toMatchObject({ code: 0, stdout: expect.stringMatching(/^deleted 5 runs that ended before /) });
    expect((await baton.runs.list({ limit: 100 })).items.map((r) => r.id)).toEqual([stuck.id]);
    const store = await baton.store();
    expect(await store.listStates(ended[0]?.id ?? '')).toEqual([]);
    await stuck.cancel();
  });

  /** Starts a run in this process (`baton run --detach` is tested above). */
  function enqueue(name: string, input?: unknown): Promise<RunHandle> {
    const target = targets.get(name);
    if (!target) throw new Error(`no task ${name} in this test`);
    return target.enqueue(input);
  }
});

describe('CLI without a store', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'baton-cli-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (env: Record<string, string>, ...args: string[]) => start(args, env, { viaLauncher: true }).exited;

  it('exit 3 for a missing or unreachable database, 2 for usage; messages without stack traces unless --verbose', async () => {
    const missing = { BATON_DATABASE_URL: join(dir, 'nothing-here.db') };
    const unreachable = { BATON_DATABASE_URL: 'postgres://baton@127.0.0.1:1/baton' };
    const [noFile, noServer, verbose, aFolder, doctor, help, unknownCommand, missingArgument, badOption, badProfile] =
      await Promise.all([
        cli(missing, 'runs', 'list'),
        cli(unreachable, 'run', 'greet', '--input', '{}'),
        cli(unreachable, 'workers', '--verbose'),
        cli({ BATON_DATABASE_URL: dir }, 'runs', 'list'),
        cli(unreachable, 'doctor'),
        cli(missing, '--help'),
        cli(missing, 'runz'),
        cli(missing, 'run'),
        cli(missing, 'runs', 'list', '--limit', 'many'),
        cli(missing, 'runs', 'list', '--profile', 'nowhere'),
      ]);
    expect(noFile.code).toBe(3);
    expect(noFile.stderr).toContain(`no Baton database at ${join(dir, 'nothing-here.db')}`);
    expect(noServer.code).toBe(3);
    expect(noServer.stderr).toMatch(/^error: cannot open the store at postgres:\/\/baton@127\.0\.0\.1:1\/baton .*ECONNREFUSED/);
    expect(aFolder.code).toBe(3);
    for (const result of [noFile, noServer, aFolder]) expect(result.stderr).not.toMatch(STACK);
    expect(verbose.code).toBe(3);
    expect(verbose.stderr).toMatch(STACK);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/^fail\s+database\s+cannot reach/m);
    expect(doctor.stdout).toMatch(/fix: check --database/);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: baton');
    for (const command of ['run', 'runs', 'events', 'schedules', 'workers', 'migrate', 'prune', 'tokens', 'doctor']) {
      expect(help.stdout).toMatch(new RegExp(`\\n  ${command}\\b`));
    }
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain("unknown command 'runz'");
    expect(missingArgument.code).toBe(2);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain('--limit must be an integer from 1 to 1000');
    expect(badProfile.code).toBe(2);
    expect(badProfile.stderr).toContain('profile "nowhere"');

    // migrate creates the database the other commands refuse to invent.
    const created = await cli(missing, 'migrate');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/applied \d+ migrations/);
    expect(await cli(missing, 'runs', 'list', '--json')).toMatchObject({ code: 0, stdout: '{\n  "items": []\n}\n' });
  });
});
