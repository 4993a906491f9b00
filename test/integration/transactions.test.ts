/**
 * `baton.transaction` (DESIGN.md §2.7, §2.12) on both stores: commit hooks when
 * every member completes, rollback hooks newest-completion-first when one fails,
 * nesting, and a rollback that another process finishes after the first died.
 */
import { type Baton, RunFailedError, type TaskContext, TransactionRolledBackError, type Worker } from 'baton';
import { TestClock } from 'baton/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

describeEachStore('transactions', (backend: BackendName) => {
  let fixture: StoreFixture;
  const workers: Worker[] = [];

  beforeEach(async () => {
    fixture = await createFixture(backend);
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await fixture.cleanup();
  });

  /** An order pipeline whose steps record their hooks in `log`. */
  function definePipeline(
    baton: Baton,
    log: string[],
    options: { shipFails?: boolean; reserveRollbackFailsOnce?: boolean } = {},
  ) {
    const hooks = (name: string) => ({
      onRollback: (_ctx: TaskContext<string>, member: { runId: string; output: string }) => {
        if (name === 'reserve' && options.reserveRollbackFailsOnce && !log.includes('reserve-rollback-failed')) {
          log.push('reserve-rollback-failed');
          throw new Error('inventory service down');
        }
        log.push(`rollback:${name}:${member.output}`);
      },
      onCommit: (_ctx: TaskContext<string>, member: { runId: string; output: string }) => {
        log.push(`commit:${name}:${member.output}`);
      },
    });
    const reserve = baton.task(
      { name: 'reserve', retries: 1, retryDelay: '1h', hooks: hooks('reserve') },
      async (sku: string) => `reserved-${sku}`,
    );
    const charge = baton.task({ name: 'charge', hooks: hooks('charge') }, async (sku: string) => `charged-${sku}`);
    const ship = baton.task({ name: 'ship', hooks: hooks('ship') }, async (sku: string) => {
      if (options.shipFails) throw new Error('no courier');
      return `shipped-${sku}`;
    });
    return { reserve, charge, ship };
  }

  async function startWorker(baton: Baton, tasks: Parameters<Baton['worker']>[0]['tasks']) {
    const worker = baton.worker({ name: `w${workers.length}`, slots: 4, pollInterval: '20ms', shutdownTimeout: '200ms', tasks });
    await worker.start();
    workers.push(worker);
  }

  it('commits: every member completes, then their onCommit hooks run', async () => {
    const baton = fixture.baton();
    const log: string[] = [];
    const { reserve, charge, ship } = definePipeline(baton, log);
    await startWorker(baton, [reserve, charge, ship]);
    let txnId = '';
    const value = await baton.transaction(async (txn) => {
      txnId = txn.id;
      await reserve.run('a1');
      await charge.run('a1');
      await ship.run('a1');
      expect(await txn.members()).toHaveLength(3);
      return 'order placed';
    });
    expect(value).toBe('order placed');
    expect([...log].sort()).toEqual(['commit:charge:charged-a1', 'commit:reserve:reserved-a1', 'commit:ship:shipped-a1']);
    const hookRuns = await baton.runs.list({ tags: { 'baton.transaction': txnId } });
    expect(hookRuns.items.map((r) => r.state.name)).toContain('Completed');
  });

  it('rolls back: completed members are undone newest first, and the failure is rethrown', async () => {
    const baton = fixture.baton();
    const log: string[] = [];
    const { reserve, charge, ship } = definePipeline(baton, log, { shipFails: true });
    await startWorker(baton, [reserve, charge, ship]);
    await expect(
      baton.transaction(async () => {
        await reserve.run('b2');
        await charge.run('b2');
        await ship.run('b2');
      }),
    ).rejects.toThrow(RunFailedError);
    expect(log).toEqual(['rollback:charge:charged-b2', 'rollback:reserve:reserved-b2']);
  });

  it('a member that fails without being awaited still rolls the transaction back', async () => {
    const baton = fixture.baton();
    const log: string[] = [];
    const { reserve, ship } = definePipeline(baton, log, { shipFails: true });
    await startWorker(baton, [reserve, ship]);
    await expect(
      baton.transaction(async () => {
        await reserve.run('c3');
        await ship.enqueue('c3');
      }),
    ).rejects.toThrow(TransactionRolledBackError);
    expect(log).toEqual(['rollback:reserve:reserved-c3']);
  });

  it('nested: a committed inner transaction is rolled back by its outer one; a failed inner one only undoes its own', async () => {
    const baton = fixture.baton();
    const log: string[] = [];
    const { reserve, charge, ship } = definePipeline(baton, log, { shipFails: true });
    await startWorker(baton, [reserve, charge, ship]);
    await expect(
      baton.transaction(async () => {
        await baton.transaction(async () => {
          await reserve.run('d4');
        });
        await charge.run('d4');
        await ship.run('d4');
      }),
    ).rejects.toThrow(RunFailedError);
    expect(log).toEqual(['rollback:charge:charged-d4', 'rollback:reserve:reserved-d4']);

    log.length = 0;
    const value = await baton.transaction(async () => {
      await reserve.run('e5');
      await baton
        .transaction(async () => {
          await charge.run('e5');
          await ship.run('e5');
        })
        .catch(() => 'inner failed');
      return 'outer went on';
    });
    expect(value).toBe('outer went on');
    expect(log).toEqual(['rollback:charge:charged-e5', 'commit:reserve:reserved-e5']);
  });

  it('a rollback left unfinished by a process that died is finished by another worker', async () => {
    const clock = new TestClock(new Date('2030-01-01T00:00:00.000Z'));
    const first = fixture.baton({ clock });
    const log: string[] = [];
    const a = definePipeline(first, log, { shipFails: true, reserveRollbackFailsOnce: true });
    await startWorker(first, [a.reserve, a.charge, a.ship]);
    const pending = first
      .transaction(async () => {
        await a.reserve.run('f6');
        await a.charge.run('f6');
        await a.ship.run('f6');
      })
      .catch((error: unknown) => error);
    // The reserve rollback failed once and waits an hour for its retry; then this process goes away.
    await waitFor(() => log.includes('reserve-rollback-failed'), { timeout: 10_000 });
    expect(log).toEqual(['rollback:charge:charged-f6', 'reserve-rollback-failed']);
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await first.close();
    void pending;

    const later = new TestClock(new Date('2030-01-01T02:00:00.000Z'));
    const second = fixture.baton({ clock: later });
    const b = definePipeline(second, log, { shipFails: true, reserveRollbackFailsOnce: true });
    await startWorker(second, [b.reserve, b.charge, b.ship]);
    await waitFor(() => log.includes('rollback:reserve:reserved-f6'), { timeout: 10_000 });
    expect(log).toEqual(['rollback:charge:charged-f6', 'reserve-rollback-failed', 'rollback:reserve:reserved-f6']);
  });

  it('onRollback and onCommit are hooks like the others: unknown hook names still fail', async () => {
    const baton = fixture.baton();
    expect(() => baton.task({ name: 'x', hooks: { onUndo: () => undefined } as never }, async () => undefined)).toThrow(
      /onUndo is not a hook/,
    );
    await expect(baton.transaction('nope' as never)).rejects.toThrow(/fn must be a function/);
  });
});
