/**
 * Bad input and failure (DESIGN.md §2.12 "Options", §6): invalid input and
 * options, oversized payloads, unserializable output, non-Error throws, a file
 * that is not a database, unknown runs and idempotency keys — on both stores
 * where storage is involved.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Baton,
  IdempotencyConflictError,
  PayloadTooLargeError,
  RunNotFoundError,
  StorageError,
  ValidationError,
  type Worker,
} from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitForState } from '../support/wait.js';

/** Runs `fn` and returns what it threw (or rejected with); fails the test when it did not throw. */
async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw, but nothing was thrown');
}

/** Asserts a ValidationError that names `key` in its message and its issues. */
async function expectValidationNaming(fn: () => unknown, key: string): Promise<void> {
  const error = await thrown(fn);
  expect(error).toBeInstanceOf(ValidationError);
  const v = error as ValidationError;
  expect(v.message).toContain(key);
  expect(v.issues.map((i) => i.path)).toContain(key);
}

describe('a database file that is not a database', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'baton-garbage-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives a StorageError saying it is not a SQLite database (SQLite)', async () => {
    const path = join(dir, 'garbage.db');
    writeFileSync(path, Buffer.from('this is certainly not a sqlite file, just some text\n'.repeat(200)));
    const baton = new Baton({ database: path, logLevel: 'silent' });
    try {
      const error = await thrown(() => baton.runs.list());
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).message).toMatch(/not a SQLite database/);
      expect((error as StorageError).message).toContain(path);
    } finally {
      await baton.close();
    }
  });
});

describe('option checks at definition time (no store needed)', () => {
  it('unknown and bad Baton options name the key', async () => {
    await expectValidationNaming(() => new Baton({ databse: 'x' } as never), 'databse');
    await expectValidationNaming(() => new Baton({ sweepInterval: 'often' as never }), 'sweepInterval');
    await expectValidationNaming(() => new Baton({ logLevel: 'loud' as never }), 'logLevel');
  });
});

describeEachStore('bad input', (backend: BackendName) => {
  let fixture: StoreFixture;
  let baton: Baton;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    baton = fixture.baton();
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function startWorker(tasks: Parameters<Baton['worker']>[0]['tasks']): Promise<Worker> {
    const worker = baton.worker({ name: 'w', slots: 10, pollInterval: '20ms', shutdownTimeout: '1s', tasks });
    await worker.start();
    return worker;
  }

  async function expectNoRuns(): Promise<void> {
    expect((await baton.runs.list()).items).toEqual([]);
    const store = await baton.store();
    expect((await store.listRuns({ namespace: baton.namespace, limit: 10 })).items).toEqual([]);
  }

  const signup = z.object({ email: z.email(), age: z.number().int().min(0) });

  it('schema-invalid input is a ValidationError naming the fields, and writes no run', async () => {
    const task = baton.task({ name: 'signup', input: signup }, async (input) => input.email);
    const error = await thrown(() => task.enqueue({ email: 'not-an-email', age: -1 }));
    expect(error).toBeInstanceOf(ValidationError);
    const paths = (error as ValidationError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['email', 'age']));
    expect((error as ValidationError).message).toContain('email');
    expect((error as ValidationError).message).toContain('age');
    await expectNoRuns();
    // Valid input goes through and the schema's output reaches the task.
    await startWorker([task]);
    expect(await task.run({ email: 'a@b.co', age: 3 })).toBe('a@b.co');
  });

  it('oversized input is a PayloadTooLargeError and writes nothing', async () => {
    baton = fixture.baton({ limits: { input: 1_024 } });
    const task = baton.task({ name: 'big' }, async (s: string) => s.length);
    const error = await thrown(() => task.enqueue('x'.repeat(2_000)));
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as PayloadTooLargeError).limit).toBe(1_024);
    expect((error as PayloadTooLargeError).size).toBeGreaterThan(1_024);
    await expectNoRuns();
  });

  it('an oversized output fails the run with PayloadTooLargeError, without retries; an oversized stream chunk is refused', async () => {
    baton = fixture.baton({ limits: { output: 256, streamChunk: 64 } });
    let chunkError: unknown;
    const bigOutput = baton.task({ name: 'big-output', retries: 2, retryDelay: 0 }, async () => 'y'.repeat(1_000));
    const bigChunk = baton.task({ name: 'big-chunk' }, async (_: null, ctx) => {
      chunkError = await ctx.putStream('z'.repeat(500)).catch((e: unknown) => e);
      await ctx.putStream('small');
      return 'ok';
    });
    await startWorker([bigOutput, bigChunk]);
    const handle = await bigOutput.enqueue(undefined);
    const state = await waitForState(handle, ['Failed', 'Completed']);
    expect(state.name).toBe('Failed');
    expect(state.error?.name).toBe('PayloadTooLargeError');
    expect(await handle.attempts()).toHaveLength(1);
    const streaming = await bigChunk.enqueue(null);
    expect(await streaming.result({ timeout: '5s' })).toBe('ok');
    expect(chunkError).toBeInstanceOf(PayloadTooLargeError);
    const chunks: unknown[] = [];
    for await (const chunk of streaming.stream()) chunks.push(chunk);
    expect(chunks).toEqual(['small']);
  });

  it('output that cannot be serialized fails the run with SerializationError, without retries', async () => {
    let runs = 0;
    const fnOutput = baton.task({ name: 'returns-fn', retries: 3, retryDelay: 0 }, async () => {
      runs++;
      return { callback: () => 1 };
    });
    const cycleOutput = baton.task({ name: 'returns-cycle', retries: 3, retryDelay: 0 }, async () => {
      runs++;
      const a: Record<string, unknown> = { name: 'a' };
      a.self = a;
      return a;
    });
    await startWorker([fnOutput, cycleOutput]);
    for (const task of [fnOutput, cycleOutput]) {
      const handle = await task.enqueue(undefined);
      const state = await waitForState(handle, ['Failed', 'Completed']);
      expect(state.name, task.name).toBe('Failed');
      expect(state.error?.name, task.name).toBe('SerializationError');
      expect(state.error?.code).toBe('BATON_SERIALIZATION');
      expect(await handle.attempts()).toHaveLength(1);
    }
    expect(runs).toBe(2);
  });

  it('output that fails the output schema fails the run with ValidationError, without retries', async () => {
    const task = baton.task(
      { name: 'bad-output', output: z.object({ ok: z.boolean() }), retries: 2, retryDelay: 0 },
      // A sync function: an async one does not typecheck with an `output` schema (reported as a typing bug).
      () => ({ ok: 'yes' }) as unknown as { ok: boolean },
    );
    await startWorker([task]);
    const handle = await task.enqueue(undefined);
    const state = await waitForState(handle, ['Failed', 'Completed']);
    expect(state.name).toBe('Failed');
    expect(state.error?.name).toBe('ValidationError');
    expect(state.error?.message).toContain('ok');
    expect(await handle.attempts()).toHaveLength(1);
  });

  it('a task that throws a non-Error fails with the value in the message', async () => {
    const throwsString = baton.task({ name: 'throws-string' }, async () => {
      throw 'plain string failure';
    });
    const throwsObject = baton.task({ name: 'throws-object' }, async () => {
      throw { code: 42, why: 'object failure' };
    });
    await startWorker([throwsString, throwsObject]);
    const a = await throwsString.enqueue(undefined);
    const b = await throwsObject.enqueue(undefined);
    const stateA = await waitForState(a, ['Failed', 'Completed']);
    const stateB = await waitForState(b, ['Failed', 'Completed']);
    expect(stateA.name).toBe('Failed');
    expect(stateA.error?.message).toContain('plain string failure');
    expect(stateB.name).toBe('Failed');
    expect(stateB.error?.message).toContain(JSON.stringify({ code: 42, why: 'object failure' }));
  });

  it('unknown or bad task, worker and enqueue options throw ValidationError naming the key', async () => {
    const ok = baton.task({ name: 'ok' }, async () => 1);
    await expectValidationNaming(() => baton.task({ name: 't1', retires: 3 } as never, async () => 1), 'retires');
    await expectValidationNaming(() => baton.task({ name: 't2', retries: -1 }, async () => 1), 'retries');
    await expectValidationNaming(() => baton.task({ name: 't3', priority: 9 }, async () => 1), 'priority');
    await expectValidationNaming(() => baton.task({ name: 't4', timeout: '5 minutes' as never }, async () => 1), 'timeout');
    await expectValidationNaming(() => baton.task({ name: 't5', retryDelay: 'soon' as never }, async () => 1), 'retryDelay');
    await expectValidationNaming(() => baton.task({ name: 't6', retryJitter: 2 }, async () => 1), 'retryJitter');
    await expectValidationNaming(() => baton.worker({ tasks: [ok], slot: 3 } as never), 'slot');
    await expectValidationNaming(() => baton.worker({ tasks: [ok], lease: 'forever' as never }), 'lease');
    await expectValidationNaming(() => baton.worker({ tasks: [ok], slots: 0 }), 'slots');
    await expectValidationNaming(() => ok.enqueue(undefined, { priorty: 2 } as never), 'priorty');
    await expectValidationNaming(() => ok.enqueue(undefined, { priority: 9 }), 'priority');
    await expectValidationNaming(() => ok.enqueue(undefined, { delay: '1 fortnight' as never }), 'delay');
    await expectValidationNaming(() => ok.enqueue(undefined, { tags: { n: 1 as never } }), 'tags');
    await expectNoRuns();
  });

  it('enqueueMany with one bad item writes nothing', async () => {
    const task = baton.task({ name: 'batch', input: signup }, async (input) => input.age);
    const good = { email: 'a@b.co', age: 1 };
    const badInput = await thrown(() =>
      task.enqueueMany([{ input: good }, { input: { email: 'nope', age: 2 } }, { input: good }]),
    );
    expect(badInput).toBeInstanceOf(ValidationError);
    const badOptions = await thrown(() => task.enqueueMany([{ input: good }, { input: good, options: { priority: 0 } }]));
    expect(badOptions).toBeInstanceOf(ValidationError);
    await expectNoRuns();
    const handles = await task.enqueueMany([{ input: good }, { input: { ...good, age: 2 } }]);
    expect(handles.map((h) => h.outcome)).toEqual(['created', 'created']);
    expect((await baton.runs.list()).items).toHaveLength(2);
  });

  it('baton.runs.get of an unknown id is RunNotFoundError', async () => {
    const error = await thrown(() => baton.runs.get('nope'));
    expect(error).toBeInstanceOf(RunNotFoundError);
    expect((error as RunNotFoundError).runId).toBe('nope');
  });

  it('reusing an idempotency key with a different input is IdempotencyConflictError', async () => {
    const task = baton.task({ name: 'charge' }, async (input: { amount: number }) => input.amount);
    const first = await task.enqueue({ amount: 10 }, { idempotencyKey: 'order-1' });
    expect(first.outcome).toBe('created');
    const same = await task.enqueue({ amount: 10 }, { idempotencyKey: 'order-1' });
    expect(same.outcome).toBe('deduplicated');
    expect(same.id).toBe(first.id);
    const error = await thrown(() => task.enqueue({ amount: 99 }, { idempotencyKey: 'order-1' }));
    expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect((error as IdempotencyConflictError).existingRunId).toBe(first.id);
    expect((await baton.runs.list()).items.map((i) => i.id)).toEqual([first.id]);
  });

  it('idempotency keys are scoped per task', async () => {
    const a = baton.task({ name: 'scoped-a' }, async (n: number) => n);
    const b = baton.task({ name: 'scoped-b' }, async (n: number) => n);
    const ha = await a.enqueue(1, { idempotencyKey: 'shared' });
    const hb = await b.enqueue(2, { idempotencyKey: 'shared' });
    expect([ha.outcome, hb.outcome]).toEqual(['created', 'created']);
    expect(ha.id).not.toBe(hb.id);
  });

  it('an idempotency key returns its first run only within the idempotency window', async () => {
    const clock = new TestClock();
    baton = fixture.baton({ clock, idempotencyWindow: '1h' });
    const task = baton.task({ name: 'windowed' }, async (n: number) => n);
    const first = await task.enqueue(1, { idempotencyKey: 'k' });
    await clock.advance(3_599_000);
    const within = await task.enqueue(1, { idempotencyKey: 'k' });
    expect(within.outcome).toBe('deduplicated');
    expect(within.id).toBe(first.id);
    await clock.advance(1_001);
    const after = await task.enqueue(2, { idempotencyKey: 'k' });
    expect(after.outcome).toBe('created');
    expect(after.id).not.toBe(first.id);
  });

  it('50 concurrent enqueues with one idempotency key make one run', async () => {
    const task = baton.task({ name: 'once' }, async (n: number) => n);
    const handles = await Promise.all(Array.from({ length: 50 }, () => task.enqueue(7, { idempotencyKey: 'the-key' })));
    const ids = new Set(handles.map((h) => h.id));
    expect(ids.size).toBe(1);
    expect(handles.filter((h) => h.outcome === 'created')).toHaveLength(1);
    expect(handles.filter((h) => h.outcome === 'deduplicated')).toHaveLength(49);
    expect((await baton.runs.list()).items.map((i) => i.id)).toEqual([...ids]);
  });
});
