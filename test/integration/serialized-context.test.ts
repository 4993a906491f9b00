/**
 * serializeContext / hydratedContext (DESIGN.md §2.3, §2.13): the context
 * travels to another process, is signed, bound to its attempt, and refused
 * when tampered with or stale — on both stores.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  type Baton,
  getTaskContext,
  hydratedContext,
  InvalidStateError,
  MissingContextError,
  serializeContext,
  ValidationError,
  withCustomContext,
  withTags,
} from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { deferred, waitFor } from '../support/wait.js';

const run = promisify(execFile);

describeEachStore('serialized context', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  /** A task that serializes its context and holds until released. */
  function holdingTask() {
    const serialized = deferred<string>();
    const release = deferred<void>();
    const child = baton.task({ name: 'child' }, async () => ({
      parent: getTaskContext()?.parentWorkflowRunId,
      custom: getTaskContext()?.customContext,
      tags: getTaskContext()?.tags,
    }));
    const task = baton.task({ name: 'holder' }, async (_: null) => {
      withTags({ scope: 'inner' }, () => withCustomContext({ tenant: 'acme' }, () => serialized.resolve(serializeContext())));
      await release.promise;
      return 'done';
    });
    return { task, child, serialized, release };
  }

  it('restores ids, tags and scopes in this process: logs land on the run, enqueues become its children', async () => {
    const { task, child, serialized, release } = holdingTask();
    const worker = baton.worker({ name: 'w', tasks: [task, child] });
    await worker.start();
    const handle = await task.enqueue(null, { tags: { team: 'core' } });
    const text = await serialized.promise;
    expect(text).toMatch(/^bt1\.[\w-]+\.[\w-]+$/);
    expect(getTaskContext()).toBeUndefined();
    const childHandle = await hydratedContext(text, async () => {
      const ctx = getTaskContext();
      expect(ctx?.taskRunId).toBe(handle.id);
      expect(ctx?.tags).toEqual({ team: 'core' });
      await ctx?.log('from a hydrated context');
      return child.enqueue(undefined);
    });
    expect(getTaskContext()).toBeUndefined();
    expect(await childHandle.result({ timeout: '10s' })).toEqual({
      parent: handle.id,
      custom: { tenant: 'acme' },
      tags: { team: 'core', scope: 'inner' },
    });
    release.resolve();
    expect(await handle.result({ timeout: '10s' })).toBe('done');
    expect((await handle.logs()).map((l) => l.message)).toContain('from a hydrated context');
  });

  it('travels to a child process that opens its own Baton on the same database', async () => {
    const { task, child, serialized, release } = holdingTask();
    const worker = baton.worker({ name: 'w', tasks: [task, child] });
    await worker.start();
    const handle = await task.enqueue(null, { tags: { team: 'core' } });
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--conditions=baton-source', 'test/fixtures/hydrate-process.ts'],
      { env: { ...process.env, ...fixture.env, SERIALIZED_CONTEXT: await serialized.promise }, timeout: 30_000 },
    );
    const result = JSON.parse(stdout) as { runId: string; childId: string; tags: Record<string, string> };
    expect(result.runId).toBe(handle.id);
    expect(result.tags).toEqual({ team: 'core' });
    const childHandle = await baton.runs.get(result.childId);
    await waitFor(async () => (await childHandle.state()).name === 'Completed', { timeout: 10_000 });
    const children = await baton.runs.list({ parentRunId: handle.id });
    expect(children.items.map((c) => c.id)).toEqual([result.childId]);
    release.resolve();
    await handle.result({ timeout: '10s' });
    expect((await handle.logs()).map((l) => l.message)).toContain('hello from another process');
  }, 60_000);

  it('refuses tampered, malformed and stale strings, and serializing outside a task', async () => {
    const { task, child, serialized, release } = holdingTask();
    const worker = baton.worker({ name: 'w', tasks: [task, child] });
    await worker.start();
    const handle = await task.enqueue(null);
    const text = await serialized.promise;
    const [prefix, body, signature] = text.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...payload, tags: { admin: 'yes' } })).toString('base64url');
    let ran = false;
    await expect(hydratedContext(`${prefix}.${forged}.${signature}`, () => (ran = true))).rejects.toThrow(ValidationError);
    await expect(hydratedContext('not-a-context', () => (ran = true))).rejects.toThrow(/not a serialized Baton context/);
    expect(ran).toBe(false);
    expect(() => serializeContext()).toThrow(MissingContextError);
    release.resolve();
    await handle.result({ timeout: '10s' });
    await expect(hydratedContext(text, () => (ran = true))).rejects.toThrow(InvalidStateError);
    expect(ran).toBe(false);
  });
});
