/**
 * Durable tasks (DESIGN.md §2.2 DurableContext, §2.13 replay): recorded steps
 * never run again across retries, crashes and resumes; identities name#n;
 * recorded now()/randomUUID(); non-determinism detected — on both stores.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Baton, RunFailedError } from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { defineFiveSteps } from '../fixtures/five-steps.js';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

describeEachStore('durable tasks', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  async function start(...tasks: Parameters<Baton['worker']>[0]['tasks']) {
    const worker = baton.worker({ name: 'w', slots: 10, pollInterval: '20ms', tasks });
    await worker.start();
    return worker;
  }

  it('a retry replays recorded steps instead of running them, and resumes after the last one', async () => {
    const calls: string[] = [];
    const logs: string[] = [];
    const task = baton.durableTask({ name: 'resume', retries: 1, retryDelay: 0 }, async (input: { n: number }, ctx) => {
      await ctx.log(`starting attempt ${ctx.attempt}`);
      const a = await ctx.step('a', async () => {
        calls.push(`a@${ctx.attempt}`);
        return input.n + 1;
      });
      const b = await ctx.step('b', async () => {
        calls.push(`b@${ctx.attempt}`);
        return { doubled: a * 2, when: new Date(0) };
      });
      if (ctx.attempt === 0) throw new Error('flaky after b');
      const c = await ctx.step('c', async () => {
        calls.push(`c@${ctx.attempt}`);
        return a + b.doubled;
      });
      logs.push(String(ctx.isReplaying));
      return { a, b, c };
    });
    await start(task);
    const handle = await task.enqueue({ n: 1 });
    expect(await handle.result({ timeout: '20s' })).toEqual({ a: 2, b: { doubled: 4, when: new Date(0) }, c: 6 });
    expect(calls).toEqual(['a@0', 'b@0', 'c@1']);
    expect(logs).toEqual(['false']);
    // The log line before the recorded steps is not written again while replaying.
    expect((await handle.logs()).map((l) => l.message)).toEqual(['starting attempt 0']);
    const store = await baton.store();
    expect((await store.loadSteps(handle.id)).map((s) => [s.key, s.seq, s.attempt])).toEqual([
      ['a#1', 0, 0],
      ['b#1', 1, 0],
      ['c#1', 2, 1],
    ]);
  });

  it('keeps identities in loops and Promise.all, with stable idempotency keys', async () => {
    const keys: string[] = [];
    const task = baton.durableTask({ name: 'identities', retries: 1, retryDelay: 0 }, async (_: null, ctx) => {
      const looped: number[] = [];
      for (let i = 0; i < 3; i++) {
        looped.push(
          await ctx.step('item', async () => {
            keys.push(ctx.idempotencyKey);
            return i;
          }),
        );
      }
      const parallel = await Promise.all(
        ['x', 'y'].map((name) =>
          ctx.step(name, async () => {
            keys.push(ctx.idempotencyKey);
            return name.toUpperCase();
          }),
        ),
      );
      if (ctx.attempt === 0) throw new Error('once more');
      return { looped, parallel };
    });
    await start(task);
    const handle = await task.enqueue(null);
    expect(await handle.result({ timeout: '20s' })).toEqual({ looped: [0, 1, 2], parallel: ['X', 'Y'] });
    const id = handle.id;
    expect(keys).toEqual([`${id}:item`, `${id}:item#2`, `${id}:item#3`, `${id}:x`, `${id}:y`]);
  });

  it('records now() and randomUUID(): a re-execution sees the same values', async () => {
    const seen: { now: number; uuid: string }[] = [];
    const task = baton.durableTask({ name: 'recorded-values', retries: 1, retryDelay: 0 }, async (_: null, ctx) => {
      const now = ctx.now();
      const uuid = ctx.randomUUID();
      seen.push({ now: now.getTime(), uuid });
      await ctx.step('after', async () => 1);
      if (ctx.attempt === 0) throw new Error('again');
      return uuid;
    });
    await start(task);
    const handle = await task.enqueue(null);
    const uuid = await handle.result({ timeout: '20s' });
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual(seen[0]);
    expect(uuid).toBe(seen[0]?.uuid);
  });

  it('fails with NonDeterminismError naming the step when the code asks for other steps than recorded', async () => {
    const task = baton.durableTask({ name: 'changes-its-mind', retries: 3, retryDelay: 0 }, async (_: null, ctx) => {
      if (ctx.attempt === 0) {
        await ctx.step('charge', async () => 'charged');
        throw new Error('crash-like failure');
      }
      await ctx.step('refund', async () => 'refunded');
      return 'done';
    });
    await start(task);
    const handle = await task.enqueue(null);
    const error = (await handle.result({ timeout: '20s' }).catch((e: unknown) => e)) as RunFailedError;
    expect(error).toBeInstanceOf(RunFailedError);
    expect(error.failure?.name).toBe('NonDeterminismError');
    expect(error.failure?.message).toMatch(/call 1 asks for step "refund#1" but the record has step "charge#1" there/);
    // Not retried: non-determinism is not a transient failure.
    expect((await handle.attempts()).map((a) => a.attempt)).toEqual([0, 1]);
  });

  it('retries a step inside the attempt and records only its final result; a retry of the run re-runs a failed step', async () => {
    let flaky = 0;
    let broken = 0;
    let fixed = false;
    const task = baton.durableTask({ name: 'step-retries' }, async (_: null, ctx) => {
      const a = await ctx.step(
        'flaky',
        async () => {
          flaky++;
          if (flaky < 3) throw new Error(`flaky ${flaky}`);
          return 'ok';
        },
        { retries: 2 },
      );
      const b = await ctx.step('broken-until-fixed', async () => {
        broken++;
        if (!fixed) throw new Error('bug');
        return 'fixed';
      });
      return [a, b];
    });
    await start(task);
    const handle = await task.enqueue(null);
    await expect(handle.result({ timeout: '20s' })).rejects.toThrow(/bug/);
    expect([flaky, broken]).toEqual([3, 1]);
    fixed = true;
    await handle.retry();
    expect(await handle.result({ timeout: '20s' })).toEqual(['ok', 'fixed']);
    // The recorded success was not run again; the failed step was.
    expect([flaky, broken]).toEqual([3, 2]);
  });

  it('refuses a step output that cannot be stored, naming the step, without retrying it', async () => {
    let tries = 0;
    const task = baton.durableTask({ name: 'bad-output', retries: 2, retryDelay: 0 }, async (_: null, ctx) => {
      await ctx.step(
        'returns-a-function',
        async () => {
          tries++;
          return { fn: () => 1 };
        },
        { retries: 3 },
      );
    });
    await start(task);
    const error = (await (await task.enqueue(null)).result({ timeout: '20s' }).catch((e: unknown) => e)) as RunFailedError;
    expect(error.failure?.name).toBe('SerializationError');
    expect(error.failure?.message).toMatch(/output of step "returns-a-function"\.fn is a function/);
    expect(tries).toBe(1);
  });

  it('forks a new run from a step: steps before it are reused, it and the rest run again', async () => {
    const calls: string[] = [];
    const task = baton.durableTask({ name: 'forkable' }, async (n: number, ctx) => {
      const a = await ctx.step('a', async () => {
        calls.push('a');
        return n + 1;
      });
      const b = await ctx.step('b', async () => {
        calls.push('b');
        return a * 10;
      });
      const c = await ctx.step('c', async () => {
        calls.push('c');
        return b + 1;
      });
      return { a, b, c, trigger: ctx.trigger };
    });
    await start(task);
    const source = await task.enqueue(4);
    expect((await source.result({ timeout: '20s' })).c).toBe(51);
    const forked = await source.fork({ fromStep: 'b' });
    expect(forked.id).not.toBe(source.id);
    expect(await forked.result({ timeout: '20s' })).toEqual({
      a: 5,
      b: 50,
      c: 51,
      trigger: { kind: 'fork', sourceRunId: source.id, fromStep: 'b#1' },
    });
    expect(calls).toEqual(['a', 'b', 'c', 'b', 'c']);
    await expect(source.fork({ fromStep: 'nope' })).rejects.toThrow(
      /no recorded step "nope#1" to fork from \(recorded: a#1, b#1, c#1\)/,
    );
  });

  it('ctx.patched: a run recorded by the old code replays the old path, new runs take the new one', async () => {
    let newCode = false;
    const paths: string[] = [];
    const task = baton.durableTask({ name: 'versioned-code', retries: 1, retryDelay: 0 }, async (_: null, ctx) => {
      await ctx.step('before', async () => 1);
      if (newCode && ctx.patched('v2')) {
        paths.push(`new@${ctx.attempt}`);
        await ctx.step('charge-v2', async () => 'v2');
      } else {
        paths.push(`old@${ctx.attempt}`);
        await ctx.step('charge', async () => 'v1');
      }
      if (ctx.attempt === 0) {
        newCode = true; // the code is deployed while this run is in flight
        throw new Error('fail once');
      }
      return ctx.step('after', async () => 'done');
    });
    await start(task);
    const inFlight = await task.enqueue(null);
    expect(await inFlight.result({ timeout: '20s' })).toBe('done');
    expect(paths).toEqual(['old@0', 'old@1']);
    const fresh = await task.enqueue(null);
    expect(await fresh.result({ timeout: '20s' })).toBe('done');
    expect(paths.slice(2)).toEqual(['new@0', 'new@1']);
  });

  it('refuses nested steps, bad step names and sleeping inside a step with clear errors', async () => {
    const task = baton.durableTask({ name: 'bad-steps' }, async (kind: string, ctx) => {
      if (kind === 'nested') await ctx.step('outer', async () => ctx.step('inner', async () => 1));
      if (kind === 'hash') await ctx.step('a#b', async () => 1);
      if (kind === 'dollar') await ctx.step('$now', async () => 1);
      if (kind === 'sleep-in-step') await ctx.step('outer', async () => ctx.sleepFor('1s'));
      return 'unreachable';
    });
    await start(task);
    const failure = async (kind: string) =>
      ((await (await task.enqueue(kind)).result({ timeout: '20s' }).catch((e: unknown) => e)) as RunFailedError).failure?.message;
    expect(await failure('nested')).toMatch(/ctx\.step\("inner"\) was called inside step "outer#1": steps cannot be nested/);
    expect(await failure('hash')).toMatch(/step name must be a non-empty string without '#'/);
    expect(await failure('dollar')).toMatch(/does not start with '\$'/);
    expect(await failure('sleep-in-step')).toMatch(/cannot be called inside a step/);
  });

  it('resumes on another worker after a SIGKILL mid-step: finished steps never re-run, the step in flight at most twice with one key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-durable-'));
    const effects = join(dir, 'effects.txt');
    writeFileSync(effects, '');
    try {
      const child = fork('test/fixtures/durable-process.ts', [], {
        execArgv: ['--import', 'tsx', '--conditions=baton-source'],
        env: { ...process.env, ...fixture.env, EFFECTS_FILE: effects, BLOCK_AT_STEP: '4', WORKER_LEASE: '1s' },
        stdio: 'ignore',
      });
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
      });
      const enqueuer = fixture.baton();
      const remoteTask = defineFiveSteps(enqueuer, { effect: () => {}, blockAt: 0 });
      const handle = await remoteTask.enqueue({ base: 100 });
      await waitFor(() => readFileSync(effects, 'utf8').includes('step-4'), { timeout: 20_000, message: 'step 4 in flight' });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      // A second worker (this process) takes the run over after the lease expires.
      const local = fixture.baton({ sweepInterval: '200ms' });
      const task = defineFiveSteps(local, {
        effect: (line) => writeFileSync(effects, `${line} ${process.pid}\n`, { flag: 'a' }),
        blockAt: 0,
      });
      const worker = local.worker({ name: 'rescuer', tasks: [task], lease: '1s', pollInterval: '50ms' });
      await worker.start();
      expect(await handle.result({ timeout: '30s' })).toBe(115);
      const lines = readFileSync(effects, 'utf8').trim().split('\n');
      const count = (step: string) => lines.filter((l) => l.split(' ')[1] === step).length;
      expect([1, 2, 3].map((n) => count(`step-${n}`))).toEqual([1, 1, 1]);
      expect(count('step-4')).toBe(2);
      expect(count('step-5')).toBe(1);
      const step4Keys = new Set(lines.filter((l) => l.split(' ')[1] === 'step-4').map((l) => l.split(' ')[2]));
      expect(step4Keys).toEqual(new Set([`${handle.id}:step-4`]));
      const attempts = await handle.attempts();
      expect(attempts.map((a) => [a.attempt, a.outcome])).toEqual([
        [0, 'lease_expired'],
        [0, 'completed'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
