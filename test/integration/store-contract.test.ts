/**
 * The store contract: the Store interface called directly, once per backend,
 * with an injected TestClock so leases, delays and idempotency windows move on
 * command. Both backends must give the same answers, state rows included.
 */
import { IdempotencyConflictError, InvalidStateError, RunNotFoundError } from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RunRow, Settlement, Store } from '../../src/store/types.js';
import { newRun } from '../support/new-run.js';
import { createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';

const NS = 'default';
const LEASE = 1_000;

describeEachStore('store contract', (backend) => {
  let fixture: StoreFixture;
  let clock: TestClock;
  let store: Store;

  beforeEach(async () => {
    fixture = await createFixture(backend);
    clock = new TestClock(new Date('2030-01-01T00:00:00Z'));
    store = await fixture.baton({ clock }).store();
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function claim(workerId = 'w1', limit = 10, taskNames = ['task-a', 'task-b']): Promise<RunRow[]> {
    return store.claimRuns({ namespace: NS, workerId, taskNames, limit, leaseMs: LEASE });
  }

  async function status(id: string) {
    return (await store.getRun(NS, id))?.status;
  }

  it('creates, claims and completes a run, writing its states and one attempt', async () => {
    const run = newRun();
    expect(await store.createRuns(NS, [run])).toEqual([{ id: run.id, outcome: 'created' }]);
    const created = await store.getRun(NS, run.id);
    expect(created).toMatchObject({ status: 'Pending', attempt: 0, leaseEpoch: 0, input: '{"n":1}', createdAt: clock.now() });
    expect(await store.getRun('other', run.id)).toBeUndefined();

    const [claimed] = await claim();
    expect(claimed).toMatchObject({
      id: run.id,
      status: 'Running',
      leaseEpoch: 1,
      leaseOwner: 'w1',
      leaseExpiresAt: clock.now() + LEASE,
      startedAt: clock.now(),
    });
    expect(await claim()).toEqual([]);

    await clock.advance(10);
    expect(await store.settle([], [{ kind: 'complete', runId: run.id, epoch: 1, output: '"done"' }])).toEqual(['Completed']);
    const done = await store.getRun(NS, run.id);
    expect(done).toMatchObject({ status: 'Completed', output: '"done"', leaseOwner: null, finishedAt: clock.now() });

    const states = await store.listStates(run.id);
    expect(states.map((s) => [s.name, s.type, s.attempt])).toEqual([
      ['Pending', 'PENDING', 0],
      ['Running', 'RUNNING', 0],
      ['Completed', 'COMPLETED', 0],
    ]);
    const attempts = await store.listAttempts(run.id);
    expect(attempts).toEqual([
      {
        runId: run.id,
        epoch: 1,
        attempt: 0,
        workerId: 'w1',
        startedAt: clock.now() - 10,
        endedAt: clock.now(),
        outcome: 'completed',
      },
    ]);
  });

  it('records the steps of several attempts in one batch, each group fenced by its own lease', async () => {
    const [a, b, c] = [newRun(), newRun(), newRun()];
    await store.createRuns(NS, [a, b, c]);
    expect(await claim('w1')).toHaveLength(3);
    await store.settle([], [{ kind: 'complete', runId: c.id, epoch: 1, output: null }]);
    const step = (key: string, output: string) => ({ key, seq: 0, kind: 'step' as const, output, error: null, attempt: 0 });
    const fenced = await store.recordSteps([
      { lease: { runId: a.id, epoch: 1 }, steps: [step('s#1', '"a1"'), step('s#2', '"a2"')] },
      { lease: { runId: b.id, epoch: 2 }, steps: [step('s#1', '"stale"')] },
      { lease: { runId: c.id, epoch: 1 }, steps: [step('s#1', '"ended"')] },
      { lease: { runId: a.id, epoch: 1 }, steps: [step('s#1', '"second writer"')] },
    ]);
    expect(fenced).toEqual([true, false, false, true]);
    expect((await store.loadSteps(a.id)).map((s) => [s.key, s.output])).toEqual([
      ['s#1', '"a1"'],
      ['s#2', '"a2"'],
    ]);
    expect(await store.loadSteps(b.id)).toEqual([]);
    expect(await store.loadSteps(c.id)).toEqual([]);
    expect(await store.recordSteps([])).toEqual([]);
  });

  it('fences stale epochs: a settle, a log or a lease write with an old epoch changes nothing', async () => {
    const run = newRun();
    await store.createRuns(NS, [run]);
    await claim('w1');
    await store.settle(
      [{ runId: run.id, epoch: 1, attempt: 0, time: clock.now(), level: 'info', message: 'first', fields: { a: 1 } }],
      [],
    );
    await clock.advance(LEASE + 1);
    const swept = await store.sweep();
    expect(swept.requeued.map((r) => r.id)).toEqual([run.id]);
    const [again] = await claim('w2');
    expect(again).toMatchObject({ id: run.id, leaseEpoch: 2, leaseOwner: 'w2', crashCount: 1 });

    const statesBefore = await store.listStates(run.id);
    const stale: Settlement = { kind: 'complete', runId: run.id, epoch: 1, output: '"stale"' };
    const staleLog = {
      runId: run.id,
      epoch: 1,
      attempt: 0,
      time: clock.now(),
      level: 'info' as const,
      message: 'stale',
      fields: null,
    };
    expect(await store.settle([staleLog], [stale])).toEqual([null]);
    expect(await store.saveCheckpoint({ runId: run.id, epoch: 1 }, 'x')).toBe(false);
    expect(await store.setProgress({ runId: run.id, epoch: 1 }, 0.5, null)).toBe(false);
    expect(await store.appendStream({ runId: run.id, epoch: 1 }, 'x')).toBeNull();
    expect(await store.getRun(NS, run.id)).toMatchObject({ status: 'Running', leaseEpoch: 2, output: null });
    expect(await store.listStates(run.id)).toEqual(statesBefore);

    // The current epoch writes.
    expect(await store.appendStream({ runId: run.id, epoch: 2 }, '"a"')).toBe(1);
    expect(await store.appendStream({ runId: run.id, epoch: 2 }, '"b"')).toBe(2);
    expect(await store.saveCheckpoint({ runId: run.id, epoch: 2 }, 'cp')).toBe(true);
    expect(await store.loadCheckpoint(run.id)).toBe('cp');
    const current = {
      runId: run.id,
      epoch: 2,
      attempt: 0,
      time: clock.now(),
      level: 'warn' as const,
      message: 'second',
      fields: null,
    };
    expect(await store.settle([current], [{ kind: 'complete', runId: run.id, epoch: 2, output: null }])).toEqual(['Completed']);
    // Settling twice is fenced too.
    expect(await store.settle([], [{ kind: 'complete', runId: run.id, epoch: 2, output: null }])).toEqual([null]);

    expect((await store.listLogs(run.id)).map((l) => [l.message, l.fields])).toEqual([
      ['first', { a: 1 }],
      ['second', null],
    ]);
    expect((await store.readStream(run.id, 0, 10)).map((c) => [c.seq, c.data])).toEqual([
      [1, '"a"'],
      [2, '"b"'],
    ]);
    expect((await store.listAttempts(run.id)).map((a) => [a.epoch, a.workerId, a.outcome])).toEqual([
      [1, 'w1', 'lease_expired'],
      [2, 'w2', 'completed'],
    ]);
  });

  it('deduplicates an idempotency key in its window, refuses a different input, and takes over an expired key', async () => {
    const idem = (hash: string) => ({ key: 'order-1', inputHash: hash, windowMs: 60_000 });
    const first = newRun({ idempotency: idem('h1') });
    expect(await store.createRuns(NS, [first])).toEqual([{ id: first.id, outcome: 'created' }]);
    const second = newRun({ idempotency: idem('h1') });
    expect(await store.createRuns(NS, [second])).toEqual([{ id: first.id, outcome: 'deduplicated' }]);
    expect(await store.getRun(NS, second.id)).toBeUndefined();

    const conflicting = newRun({ idempotency: idem('h2') });
    const error = await store.createRuns(NS, [conflicting]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect((error as IdempotencyConflictError).existingRunId).toBe(first.id);
    expect(await store.getRun(NS, conflicting.id)).toBeUndefined();

    // Keys are per (namespace, task).
    const otherTask = newRun({ taskName: 'task-b', idempotency: idem('h2') });
    expect(await store.createRuns(NS, [otherTask])).toEqual([{ id: otherTask.id, outcome: 'created' }]);

    // Within one batch, the second use of a key is deduplicated against the first.
    const [a, b] = [newRun({ idempotency: { ...idem('h3'), key: 'k2' } }), newRun({ idempotency: { ...idem('h3'), key: 'k2' } })];
    expect(await store.createRuns(NS, [a, b])).toEqual([
      { id: a.id, outcome: 'created' },
      { id: a.id, outcome: 'deduplicated' },
    ]);

    await clock.advance(60_000);
    const later = newRun({ idempotency: idem('h2') });
    expect(await store.createRuns(NS, [later])).toEqual([{ id: later.id, outcome: 'created' }]);
    const again = newRun({ idempotency: idem('h2') });
    expect(await store.createRuns(NS, [again])).toEqual([{ id: later.id, outcome: 'deduplicated' }]);
  });

  it('claims by priority, then due-time, then id, up to the limit, only for the given tasks', async () => {
    const low1 = newRun({ id: 'run_b_low', priority: 0 });
    const high1 = newRun({ id: 'run_z_high', priority: 5 });
    await store.createRuns(NS, [low1, high1]);
    await clock.advance(1);
    const low2 = newRun({ id: 'run_a_low', priority: 0 });
    const high2 = newRun({ id: 'run_a_high', priority: 5 });
    const other = newRun({ id: 'run_other', priority: 9, taskName: 'task-c' });
    await store.createRuns(NS, [low2, high2, other]);

    const first = await claim('w1', 3);
    expect(first.map((r) => r.id)).toEqual(['run_z_high', 'run_a_high', 'run_b_low']);
    const rest = await claim('w1', 10);
    expect(rest.map((r) => r.id)).toEqual(['run_a_low']);
    expect(await status('run_other')).toBe('Pending');
    expect(await claim('w1', 0)).toEqual([]);
    expect(await store.claimRuns({ namespace: NS, workerId: 'w1', taskNames: [], limit: 5, leaseMs: LEASE })).toEqual([]);
    expect(
      await store.claimRuns({ namespace: 'other', workerId: 'w1', taskNames: ['task-c'], limit: 5, leaseMs: LEASE }),
    ).toEqual([]);
  });

  it('holds delayed runs until they are due, and reports the next due-time', async () => {
    expect(await store.nextDueAt(NS, ['task-a'])).toBeNull();
    const delayed = newRun({ delayMs: 5_000 });
    const at = newRun({ runAt: clock.now() + 2_000, taskName: 'task-b' });
    await store.createRuns(NS, [delayed, at]);
    const row = await store.getRun(NS, delayed.id);
    expect(row).toMatchObject({ status: 'Scheduled', availableAt: clock.now() + 5_000 });
    expect(row?.waitingOn).toMatchObject({ reason: 'scheduled', until: clock.now() + 5_000 });
    expect((await store.listStates(delayed.id)).map((s) => [s.name, s.type])).toEqual([['Scheduled', 'SCHEDULED']]);

    expect(await claim()).toEqual([]);
    expect(await store.nextDueAt(NS, ['task-a', 'task-b'])).toBe(clock.now() + 2_000);
    expect(await store.nextDueAt(NS, ['task-a'])).toBe(clock.now() + 5_000);
    expect(await store.nextDueAt(NS, ['task-c'])).toBeNull();

    await clock.advance(2_000);
    expect((await claim()).map((r) => r.id)).toEqual([at.id]);
    await clock.advance(2_999);
    expect(await claim()).toEqual([]);
    await clock.advance(1);
    const [claimed] = await claim();
    expect(claimed).toMatchObject({ id: delayed.id, status: 'Running', waitingOn: null });
    expect(await store.nextDueAt(NS, ['task-a', 'task-b'])).toBeNull();
  });

  it('retries: AwaitingRetry until the delay passes, then Retrying with attempt 1', async () => {
    const run = newRun();
    await store.createRuns(NS, [run]);
    await claim();
    const error = { name: 'Error', message: 'boom' };
    expect(await store.settle([], [{ kind: 'retry', runId: run.id, epoch: 1, error, delayMs: 1_000, isTimeout: false }])).toEqual(
      ['AwaitingRetry'],
    );
    expect(await store.getRun(NS, run.id)).toMatchObject({ status: 'AwaitingRetry', attempt: 1, error });
    expect(await claim()).toEqual([]);
    expect(await store.nextDueAt(NS, ['task-a'])).toBe(clock.now() + 1_000);
    await clock.advance(1_000);
    const [again] = await claim();
    expect(again).toMatchObject({ status: 'Retrying', attempt: 1, leaseEpoch: 2 });
    const states = await store.listStates(run.id);
    expect(states.map((s) => [s.name, s.attempt])).toEqual([
      ['Pending', 0],
      ['Running', 0],
      ['AwaitingRetry', 1],
      ['Retrying', 1],
    ]);
    expect(states[2]).toMatchObject({ message: 'failed: boom', error, waitingOn: { reason: 'retry-delay' } });
    expect((await store.listAttempts(run.id)).map((a) => [a.attempt, a.outcome])).toEqual([
      [0, 'failed'],
      [1, null],
    ]);
  });

  it('renews leases, reports lost leases and cancellation requests', async () => {
    const a = newRun({ id: 'run_a' });
    const b = newRun({ id: 'run_b' });
    await store.createRuns(NS, [a, b]);
    await claim('w1');
    await clock.advance(600);
    const renewal = await store.renewLeases({
      namespace: NS,
      workerId: 'w1',
      leaseMs: LEASE,
      leases: [
        { runId: a.id, epoch: 1 },
        { runId: b.id, epoch: 1 },
      ],
    });
    expect(renewal).toEqual({ lost: [], cancelRequested: [] });
    expect((await store.getRun(NS, a.id))?.leaseExpiresAt).toBe(clock.now() + LEASE);

    await store.requestCancel(NS, b.id, 'user asked');
    const withCancel = await store.renewLeases({
      namespace: NS,
      workerId: 'w1',
      leaseMs: LEASE,
      leases: [
        { runId: a.id, epoch: 1 },
        { runId: b.id, epoch: 1 },
      ],
    });
    expect(withCancel.lost).toEqual([]);
    expect(withCancel.cancelRequested).toEqual([{ runId: b.id, reason: 'user asked', requestedAt: clock.now() }]);

    // Nothing renews a: its lease expires, the sweep re-queues it and w2 takes it.
    await clock.advance(LEASE + 1);
    await store.sweep();
    expect(await status(b.id)).toBe('Cancelled');
    await claim('w2');
    const lost = await store.renewLeases({ namespace: NS, workerId: 'w1', leaseMs: LEASE, leases: [{ runId: a.id, epoch: 1 }] });
    expect(lost).toEqual({ lost: [a.id], cancelRequested: [] });
    const workers = await store.listWorkers(NS);
    expect(workers).toEqual([]);
  });

  it('cancels a run and its descendants; a running one goes Cancelling, then Cancelled when it settles', async () => {
    const parent = newRun({ id: 'run_parent' });
    await store.createRuns(NS, [parent]);
    await claim('w1');
    const child = newRun({ id: 'run_child', parentRunId: parent.id, parentWorkflowRunId: parent.id });
    const done = newRun({ id: 'run_done', parentRunId: parent.id, taskName: 'task-b' });
    await store.createRuns(NS, [child, done]);
    const [claimedDone] = await claim('w1', 1, ['task-b']);
    await store.settle([], [{ kind: 'complete', runId: done.id, epoch: claimedDone?.leaseEpoch ?? 0, output: null }]);
    const grandchild = newRun({ id: 'run_grandchild', parentRunId: child.id, delayMs: 60_000 });
    await store.createRuns(NS, [grandchild]);

    const result = await store.requestCancel(NS, parent.id, 'stop it');
    expect(result?.run).toMatchObject({ id: parent.id, status: 'Cancelling', cancelReason: 'stop it' });
    expect(result?.changed).toEqual([
      { id: parent.id, status: 'Cancelling', leaseOwner: 'w1' },
      { id: child.id, status: 'Cancelled', leaseOwner: null },
      { id: grandchild.id, status: 'Cancelled', leaseOwner: null },
    ]);
    expect(await status(done.id)).toBe('Completed');
    const childRow = await store.getRun(NS, child.id);
    expect(childRow?.cancelReason).toBe(`parent run ${parent.id} was cancelled: stop it`);
    expect(childRow?.error).toMatchObject({ name: 'CancelledError', code: 'BATON_CANCELLED' });
    expect((await store.getRun(NS, parent.id))?.waitingOn).toMatchObject({
      reason: 'cancellation',
      deadline: clock.now() + 10_000,
    });
    expect(await store.requestCancel(NS, 'run_missing', 'x')).toBeUndefined();

    // Whatever the attempt reports, a cancelled run ends Cancelled.
    expect(await store.settle([], [{ kind: 'complete', runId: parent.id, epoch: 1, output: null }])).toEqual(['Cancelled']);
    expect((await store.listStates(parent.id)).map((s) => [s.name, s.message])).toEqual([
      ['Pending', null],
      ['Running', null],
      ['Cancelling', 'stop it'],
      ['Cancelled', 'stop it'],
    ]);
    expect((await store.listAttempts(parent.id))[0]?.outcome).toBe('cancelled');
    // Cancelling a finished run changes nothing.
    expect((await store.requestCancel(NS, parent.id, 'again'))?.changed).toEqual([]);
  });

  it('retries a failed run by hand; refuses a run that is not finished', async () => {
    const run = newRun();
    await store.createRuns(NS, [run]);
    await expect(store.retryRun(NS, run.id)).rejects.toBeInstanceOf(InvalidStateError);
    await claim();
    const error = { name: 'Error', message: 'bad' };
    expect(await store.settle([], [{ kind: 'fail', runId: run.id, epoch: 1, error, stateName: 'Failed' }])).toEqual(['Failed']);
    expect(await store.getRun(NS, run.id)).toMatchObject({ status: 'Failed', error, finishedAt: clock.now() });
    const retried = await store.retryRun(NS, run.id);
    expect(retried).toMatchObject({ status: 'Pending', attempt: 1, error: null, finishedAt: null, crashCount: 0 });
    expect((await store.listStates(run.id)).at(-1)).toMatchObject({
      name: 'Pending',
      attempt: 1,
      message: 'retried by hand after Failed',
    });
    await expect(store.retryRun(NS, 'run_missing')).rejects.toBeInstanceOf(RunNotFoundError);
    const [again] = await claim();
    expect(again).toMatchObject({ status: 'Retrying', attempt: 1, leaseEpoch: 2 });
  });

  it('sweeps: an expired lease re-queues the run, past maxCrashes it ends Crashed; a schedule deadline ends TimedOut', async () => {
    const run = newRun({ maxCrashes: 1 });
    const late = newRun({ taskName: 'task-b', scheduleTimeoutMs: 1_000 });
    await store.createRuns(NS, [run]);
    await store.upsertWorker({
      id: 'w1',
      namespace: NS,
      name: 'alpha',
      labels: {},
      slots: 1,
      taskNames: ['task-a'],
      host: 'h',
      pid: 1,
      leaseMs: LEASE,
    });
    await claim('w1', 1, ['task-a']);
    await store.createRuns(NS, [late]);
    expect(await store.sweep()).toEqual({ requeued: [], crashed: [], timedOut: [], cancelled: [] });

    await clock.advance(LEASE + 1);
    const first = await store.sweep();
    expect(first.requeued.map((r) => [r.id, r.status, r.crashCount])).toEqual([[run.id, 'Pending', 1]]);
    expect(first.timedOut.map((r) => r.id)).toEqual([late.id]);
    const requeued = await store.getRun(NS, run.id);
    expect(requeued?.waitingOn).toEqual({
      reason: 'lease-expired',
      message: 'lease expired on worker alpha (w1); re-queued',
      workerId: 'w1',
      workerName: 'alpha',
    });
    expect(await store.getRun(NS, late.id)).toMatchObject({
      status: 'TimedOut',
      error: { name: 'TaskRunTimeoutError', message: 'no worker claimed the run within its scheduleTimeout' },
    });

    await claim('w1', 1, ['task-a']);
    await clock.advance(LEASE + 1);
    const second = await store.sweep();
    expect(second.crashed.map((r) => [r.id, r.status, r.crashCount])).toEqual([[run.id, 'Crashed', 2]]);
    const crashed = await store.getRun(NS, run.id);
    expect(crashed).toMatchObject({ status: 'Crashed', crashCount: 2, leaseOwner: null, error: { code: 'worker_crashed' } });
    expect((await store.listStates(run.id)).map((s) => s.name)).toEqual(['Pending', 'Running', 'Pending', 'Running', 'Crashed']);
    expect((await store.listStates(late.id)).map((s) => [s.name, s.type])).toEqual([
      ['Pending', 'PENDING'],
      ['TimedOut', 'FAILED'],
    ]);
    expect((await store.listAttempts(run.id)).map((a) => a.outcome)).toEqual(['lease_expired', 'lease_expired']);
    expect(await store.listWorkers(NS, { liveOnly: true })).toEqual([]);
    expect((await store.listWorkers(NS)).map((w) => w.name)).toEqual(['alpha']);
  });

  it('at exactly its schedule deadline a run is no longer claimable and the sweep times it out', async () => {
    const run = newRun({ scheduleTimeoutMs: 500 });
    await store.createRuns(NS, [run]);
    expect(await store.getRun(NS, run.id)).toMatchObject({ scheduleDeadlineAt: clock.now() + 500 });
    await clock.advance(500);
    expect(await claim()).toEqual([]);
    expect((await store.sweep()).timedOut.map((r) => r.id)).toEqual([run.id]);
    expect(await status(run.id)).toBe('TimedOut');
  });

  it('lists runs with filters and cursor pagination, newest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const run = newRun({
        id: `run_${String(i).padStart(2, '0')}`,
        taskName: i % 2 === 0 ? 'task-a' : 'task-b',
        tags: { env: i < 4 ? 'prod' : 'dev', n: String(i) },
      });
      await store.createRuns(NS, [run]);
      ids.push(run.id);
      if (i % 3 === 0) await clock.advance(1);
    }
    await store.createRuns('other', [newRun({ id: 'run_other_ns' })]);
    await claim('w1', 1, ['task-b']);

    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const result = await store.listRuns({ namespace: NS, limit: 3, cursor });
      seen.push(...result.items.map((r) => r.id));
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual([...ids].reverse());

    const byTask = await store.listRuns({ namespace: NS, limit: 50, taskName: 'task-a' });
    expect(byTask.items.map((r) => r.id)).toEqual(['run_06', 'run_04', 'run_02', 'run_00']);
    expect(byTask.nextCursor).toBeUndefined();
    const byTags = await store.listRuns({ namespace: NS, limit: 50, tags: { env: 'prod', n: '1' } });
    expect(byTags.items.map((r) => r.id)).toEqual(['run_01']);
    const byStatus = await store.listRuns({ namespace: NS, limit: 50, statuses: ['Running'] });
    expect(byStatus.items.map((r) => r.id)).toEqual(['run_01']);
    const created = (await store.getRun(NS, 'run_03'))?.createdAt ?? 0;
    const byTime = await store.listRuns({ namespace: NS, limit: 50, createdAfter: created, createdBefore: created + 1 });
    expect(byTime.items.map((r) => r.id)).toEqual(['run_03', 'run_02', 'run_01']);
    expect((await store.getRuns(NS, ['run_00', 'run_other_ns', 'run_05'])).map((r) => r.id).sort()).toEqual(['run_00', 'run_05']);
  });

  it('keeps the task registry and the worker table', async () => {
    await store.registerTasks(NS, [
      { name: 'task-b', kind: 'task', version: '1', inputSchema: null },
      { name: 'task-a', kind: 'workflow', version: '2', inputSchema: { type: 'object' } },
    ]);
    await store.registerTasks(NS, [{ name: 'task-b', kind: 'task', version: '3', inputSchema: null }]);
    expect((await store.listTasks(NS)).map((t) => [t.name, t.kind, t.version, t.inputSchema])).toEqual([
      ['task-a', 'workflow', '2', { type: 'object' }],
      ['task-b', 'task', '3', null],
    ]);
    const worker = {
      id: 'w9',
      namespace: NS,
      name: 'nine',
      labels: { zone: 'a' },
      slots: 4,
      taskNames: ['task-a'],
      host: 'h',
      pid: 9,
      leaseMs: LEASE,
    };
    await store.upsertWorker(worker);
    expect(await store.listWorkers(NS, { liveOnly: true })).toEqual([
      { ...worker, startedAt: clock.now(), heartbeatAt: clock.now(), stoppedAt: null },
    ]);
    await store.markWorkerStopped('w9');
    expect(await store.listWorkers(NS, { liveOnly: true })).toEqual([]);
    expect(await store.now()).toBe(clock.now());
  });

  it.runIf(backend === 'postgres')('without an injected clock, PostgreSQL time is the database clock', async () => {
    const real = await fixture.baton({ namespace: 'dbclock' }).store();
    const before = Date.now();
    const now = await real.now();
    expect(Math.abs(now - before)).toBeLessThan(5_000);
    const run = newRun({ delayMs: 60_000 });
    await real.createRuns('dbclock', [run]);
    const row = await real.getRun('dbclock', run.id);
    expect(row?.status).toBe('Scheduled');
    expect((row?.availableAt ?? 0) - (row?.createdAt ?? 0)).toBe(60_000);
    expect(Math.abs((row?.createdAt ?? 0) - now)).toBeLessThan(5_000);
  });
});
