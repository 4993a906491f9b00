/**
 * The context travels to worker threads and child processes (DESIGN.md §2.3):
 * `getTaskContext()` answers there with the parent's fields, `ctx` operations land
 * on the run, errors and cancellation cross both ways, and a serialized context
 * given from elsewhere is verified first — on both stores, for both transports.
 */
import {
  Baton,
  getCustomContext,
  getRunContext,
  InvalidStateError,
  NonRetryableError,
  RunFailedError,
  runInChildProcess,
  runInWorkerThread,
  SerializationError,
  serializeContext,
  ValidationError,
  withCustomContext,
  withTags,
} from 'baton';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fieldsOf } from '../fixtures/travel-work.js';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor, waitForState } from '../support/wait.js';

const WORK = new URL('../fixtures/travel-work.ts', import.meta.url);

/** Runs an export of the fixture module over one transport (Baton's sources need tsx and the source condition). */
type Runner = (exportName: string, input?: unknown, options?: { context?: string; abortGrace?: number }) => Promise<unknown>;
const TRANSPORTS: Record<'thread' | 'process', Runner> = {
  thread: (exportName, input, options = {}) =>
    runInWorkerThread(WORK, exportName, input, { execArgv: ['--conditions=baton-source'], ...options }),
  process: (exportName, input, options = {}) =>
    runInChildProcess(WORK, exportName, input, { execArgv: ['--import', 'tsx', '--conditions=baton-source'], ...options }),
};

describeEachStore('the context travels to threads and processes', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  for (const [where, run] of Object.entries(TRANSPORTS)) {
    it(`${where}: same fields and scopes; log, stream, progress and checkpoint land on the run with its attempt`, async () => {
      const task = baton.task({ name: 'traveller', retries: 1, retryDelay: 0, timeout: '1m' }, async (_: null, ctx) => {
        if (ctx.attempt === 0) throw new Error('the first attempt fails, so the work runs on attempt 1');
        return withTags({ scope: 'inner' }, () =>
          withCustomContext({ tenant: 'acme' }, async () => ({
            here: fieldsOf(ctx),
            hereCustom: { ...getCustomContext() },
            there: (await run('describeContext', { where })) as Record<string, unknown>,
          })),
        );
      });
      await baton.worker({ name: 'w', tasks: [task], labels: { zone: 'eu' } }).start();
      const handle = await task.enqueue(null, { tags: { team: 'core' }, metadata: { order: 42 }, priority: 3 });
      const { here, hereCustom, there } = await handle.result({ timeout: '30s' });
      expect(there.context).toEqual(here);
      expect(here).toMatchObject({ attempt: 1, trigger: { kind: 'retry', previousAttempt: 0 }, tags: { team: 'core' } });
      expect(there.custom).toEqual(hereCustom);
      expect(there.custom).toEqual({ tenant: 'acme' });
      expect(there.sameObject).toBe(true);
      expect(there.checkpoint).toEqual({ savedIn: where });
      if (where === 'thread') expect(there.isMainThread).toBe(false);
      else expect(there.pid).not.toBe(process.pid);
      const logs = await handle.logs();
      expect(logs).toContainEqual(
        expect.objectContaining({ message: `hello from the ${where}`, attempt: 1, fields: { where }, level: 'info' }),
      );
      expect(logs.map((l) => l.message)).toContain(`not awaited, from the ${where}`);
      const chunks: unknown[] = [];
      for await (const chunk of handle.stream()) chunks.push(chunk);
      expect(chunks).toEqual([{ from: where }]);
    }, 60_000);

    it(`${where}: errors come back with name, message, code and stack; NonRetryableError stops retries`, async () => {
      const catching = baton.task({ name: 'catching' }, async () => {
        const caught = async (exportName: string, input?: unknown) => {
          const error = (await run(exportName, input).catch((e: unknown) => e)) as Error & { code?: string };
          return {
            isError: error instanceof Error,
            name: error.name,
            message: error.message,
            code: error.code,
            stack: error.stack,
          };
        };
        return {
          user: await caught('fail', { kind: 'user' }),
          missing: await caught('noSuchExport'),
          crash: await caught('crash'),
          unsendable: await caught('unsendable'),
        };
      });
      const giveUp = baton.task({ name: 'give-up', retries: 3, retryDelay: 0 }, async () => {
        await run('fail', { kind: 'non-retryable' });
      });
      await baton.worker({ name: 'w', tasks: [catching, giveUp] }).start();
      const { user, missing, crash, unsendable } = await (await catching.enqueue(undefined)).result({ timeout: '30s' });
      expect(user).toMatchObject({ isError: true, name: 'PaymentDeclined', message: 'card declined for order 42' });
      expect(user.code).toBe('CARD_DECLINED');
      expect(user.stack).toContain('travel-work.ts');
      expect(missing).toMatchObject({
        name: 'TypeError',
        message: expect.stringContaining('no exported function "noSuchExport"'),
      });
      expect(missing.message).toContain('describeContext');
      expect(crash.message).toMatch(
        new RegExp(`the ${where === 'thread' ? 'worker thread' : 'child process'} running crash exited \\(code 3\\)`),
      );
      expect(unsendable).toMatchObject({ name: 'SerializationError', message: expect.stringContaining('cannot be sent back') });
      const handle = await giveUp.enqueue(undefined);
      const failure = await handle.result({ timeout: '30s' }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(RunFailedError);
      expect((failure as RunFailedError).failure).toMatchObject({ name: 'NonRetryableError', message: 'give up at once' });
      expect(await handle.attempts()).toHaveLength(1);
    }, 60_000);

    it(`${where}: cancelling the run aborts ctx.signal over there; work that ignores it is stopped after abortGrace`, async () => {
      const cooperative = baton.task({ name: 'cooperative', cancelGracePeriod: '30s' }, async (_: null) =>
        run('awaitAbort', { where }),
      );
      const stubborn = baton.task({ name: 'stubborn', cancelGracePeriod: '30s' }, async (_: null, ctx) => {
        const error = (await run('ignoreAbort', null, { abortGrace: 100 }).catch((e: unknown) => e)) as Error;
        await ctx.log(`stopped: ${error.name}`);
      });
      const selfCancelling = baton.task({ name: 'self-cancelling' }, async (_: null) => run('cancelRun'));
      await baton.worker({ name: 'w', tasks: [cooperative, stubborn, selfCancelling], slots: 3 }).start();

      const first = await cooperative.enqueue(null);
      const second = await stubborn.enqueue(null);
      const third = await selfCancelling.enqueue(null);
      await waitFor(async () => (await first.logs()).some((l) => l.message === `waiting in the ${where}`), { timeout: 20_000 });
      await first.cancel('user asked');
      await waitForState(first, 'Cancelled', { timeout: 20_000 });
      expect((await first.logs()).map((l) => l.message)).toContain(`aborted in the ${where}: CancelledError`);

      await waitFor(async () => (await second.logs()).some((l) => l.message === 'ignoring the signal'), { timeout: 20_000 });
      await second.cancel('stop it');
      await waitForState(second, 'Cancelled', { timeout: 20_000 });
      expect((await second.logs()).map((l) => l.message)).toContain('stopped: CancelledError');

      const cancelled = await waitForState(third, 'Cancelled', { timeout: 20_000 });
      expect(cancelled.message).toContain('cancelled from afar');
    }, 90_000);

    it(`${where}: a serialized context given as { context } is verified first; tampered, unknown-version and stale ones are refused`, async () => {
      const serialized = deferred<string>();
      const release = deferred<void>();
      const holder = baton.task({ name: 'holder' }, async (_: null) => {
        serialized.resolve(serializeContext());
        await release.promise;
        return getRunContext().taskRunId;
      });
      await baton.worker({ name: 'w', tasks: [holder] }).start();
      const handle = await holder.enqueue(null, { tags: { team: 'core' } });
      const text = await serialized.promise;

      const there = (await run('describeContext', { where }, { context: text })) as {
        context: { taskRunId: string; tags: object };
      };
      expect(there.context).toMatchObject({ taskRunId: handle.id, tags: { team: 'core' } });

      const [, body, signature] = text.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
      const forged = `bt1.${Buffer.from(JSON.stringify({ ...payload, tags: { admin: 'yes' } })).toString('base64url')}.${signature}`;
      await expect(run('describeContext', { where: 'forged' }, { context: forged })).rejects.toThrow(ValidationError);
      await expect(run('describeContext', { where: 'future' }, { context: `bt2.${body}.${signature}` })).rejects.toThrow(
        /format version 2, but this Baton reads version 1/,
      );
      const newer = Buffer.from(JSON.stringify({ ...payload, v: 2 })).toString('base64url');
      await expect(run('describeContext', { where: 'future' }, { context: `bt1.${newer}.${signature}` })).rejects.toThrow(
        ValidationError,
      );

      release.resolve();
      expect(await handle.result({ timeout: '10s' })).toBe(handle.id);
      await expect(run('describeContext', { where: 'late' }, { context: text })).rejects.toThrow(InvalidStateError);
      const messages = (await handle.logs()).map((l) => l.message);
      expect(messages).toContain(`hello from the ${where}`);
      expect(messages.filter((m) => /forged|future|late/.test(m))).toEqual([]);
    }, 60_000);
  }
});

describe('work started outside a task', () => {
  it('runs with no context, and Baton errors keep their classes on the way back', async () => {
    expect(await TRANSPORTS.thread('describeContext', { where: 'thread' })).toMatchObject({ context: null, isMainThread: false });
    const error = await TRANSPORTS.thread('fail', { kind: 'non-retryable' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonRetryableError);
    expect(NonRetryableError.is(error)).toBe(true);
  });

  it('works on a :memory: database: the thread writes through the parent', async () => {
    const memory = new Baton({ database: ':memory:', logLevel: 'silent' });
    try {
      const task = memory.task({ name: 'in-memory' }, async (_: null) =>
        TRANSPORTS.thread('describeContext', { where: 'thread' }),
      );
      await memory.worker({ name: 'w', tasks: [task] }).start();
      const handle = await task.enqueue(null);
      expect(await handle.result({ timeout: '30s' })).toMatchObject({ context: { taskRunId: handle.id } });
      expect((await handle.logs()).map((l) => l.message)).toContain('hello from the thread');
    } finally {
      await memory.close();
    }
  });

  it('refuses a relative module path and an input that cannot be cloned', async () => {
    await expect(runInWorkerThread('./work.js', 'fn')).rejects.toThrow(/new URL\('\.\/work\.js', import\.meta\.url\)/);
    await expect(TRANSPORTS.thread('describeContext', { where: () => 'thread' })).rejects.toThrow(SerializationError);
    await expect(TRANSPORTS.process('describeContext', { where: () => 'process' })).rejects.toThrow(SerializationError);
  });
});
