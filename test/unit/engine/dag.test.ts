import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDag, composeOutputs, type DagSpec, dagProgress, topologicalOrder } from '../../../src/engine/dag.js';
import { deserialize, serialize } from '../../../src/engine/serializer.js';
import type { StateName } from '../../../src/engine/types.js';

const diamond: DagSpec = {
  tasks: [
    { name: 'a', parents: [] },
    { name: 'b', parents: ['a'] },
    { name: 'c', parents: ['a'] },
    { name: 'd', parents: ['b', 'c'] },
    { name: 'on-failure', parents: [], isOnFailure: true },
  ],
};

const statuses = (entries: Record<string, StateName>) => new Map(Object.entries(entries));

describe('DAG definitions', () => {
  it('finds duplicates, unknown parents, self-parents and cycles', () => {
    expect(checkDag('wf', diamond.tasks)).toEqual([]);
    expect(
      checkDag('wf', [
        { name: 'a', parents: [] },
        { name: 'a', parents: [] },
      ]),
    ).toEqual(['workflow "wf" has two tasks named "a"']);
    expect(checkDag('wf', [{ name: 'a', parents: ['x'] }])).toEqual(['task "a" of workflow "wf" has an unknown parent "x"']);
    expect(checkDag('wf', [{ name: 'a', parents: ['a'] }])[0]).toMatch(/its own parent/);
    const cycle = checkDag('wf', [
      { name: 'a', parents: ['c'] },
      { name: 'b', parents: ['a'] },
      { name: 'c', parents: ['b'] },
    ]);
    expect(cycle).toEqual(['workflow "wf" has a cycle: a → c → b → a']);
  });
});

describe('DAG progress', () => {
  it('makes a task runnable when its own parents are done, whatever the other branches do', () => {
    const p = dagProgress(
      diamond,
      statuses({ a: 'Completed', b: 'Running', c: 'Waiting', d: 'Waiting', 'on-failure': 'Waiting' }),
    );
    expect(p.ready).toEqual(['c']);
    expect(p.finished).toBeUndefined();
  });

  it('joins when both parents ended, counting a skipped parent as ended', () => {
    const p = dagProgress(
      diamond,
      statuses({ a: 'Completed', b: 'Completed', c: 'Skipped', d: 'Waiting', 'on-failure': 'Waiting' }),
    );
    expect(p.ready).toEqual(['d']);
  });

  it('cuts off the descendants of a failure and then starts the on-failure task', () => {
    const p = dagProgress(
      diamond,
      statuses({ a: 'Completed', b: 'Failed', c: 'Completed', d: 'Waiting', 'on-failure': 'Waiting' }),
    );
    expect(p.unreachable).toEqual([{ name: 'd', failedParent: 'b' }]);
    expect(p.startOnFailure).toBe('on-failure');
    expect(p.finished).toBeUndefined();
    const after = dagProgress(
      diamond,
      statuses({ a: 'Completed', b: 'Failed', c: 'Completed', d: 'Cancelled', 'on-failure': 'Completed' }),
    );
    expect(after.finished).toEqual({ status: 'Failed' });
  });

  it('traces a failure through grandchildren in one pass', () => {
    const p = dagProgress(
      diamond,
      statuses({ a: 'TimedOut', b: 'Waiting', c: 'Waiting', d: 'Waiting', 'on-failure': 'Waiting' }),
    );
    expect(p.unreachable.map((u) => u.name).sort()).toEqual(['b', 'c', 'd']);
    expect(p.unreachable.every((u) => u.failedParent === 'a')).toBe(true);
  });

  it('finishes Completed when every task succeeded or was skipped', () => {
    const p = dagProgress(
      diamond,
      statuses({ a: 'Completed', b: 'Skipped', c: 'Completed', d: 'Completed', 'on-failure': 'Waiting' }),
    );
    expect(p.finished).toEqual({ status: 'Completed' });
  });

  it('never makes a task runnable before all its parents ended (property)', () => {
    const names = ['a', 'b', 'c', 'd'];
    const state = fc.constantFrom<StateName>('Waiting', 'Pending', 'Running', 'Completed', 'Skipped', 'Failed', 'Cancelled');
    fc.assert(
      fc.property(fc.tuple(state, state, state, state), (values) => {
        const map = statuses(Object.fromEntries(names.map((n, i) => [n, values[i] as StateName])));
        const p = dagProgress(diamond, map);
        for (const name of p.ready) {
          const task = diamond.tasks.find((t) => t.name === name);
          expect(map.get(name)).toBe('Waiting');
          for (const parent of task?.parents ?? []) expect(['Completed', 'Skipped']).toContain(map.get(parent));
        }
        if (p.finished?.status === 'Completed') {
          for (const n of names) expect(['Completed', 'Skipped']).toContain(map.get(n));
        }
      }),
    );
  });

  it('orders parents before children', () => {
    const order = topologicalOrder([...diamond.tasks].reverse()).map((t) => t.name);
    expect(order.indexOf('a')).toBeLessThan(order.indexOf('b'));
    expect(order.indexOf('b')).toBeLessThan(order.indexOf('d'));
    expect(order.indexOf('c')).toBeLessThan(order.indexOf('d'));
  });
});

describe('workflow outputs', () => {
  it('composes stored outputs into one map without re-encoding them', () => {
    const text = composeOutputs([
      ['a', serialize({ when: new Date(0) }) ?? null],
      ['b', null],
      ['c', serialize(5n) ?? null],
    ]);
    expect(deserialize(text)).toEqual({ a: { when: new Date(0) }, b: undefined, c: 5n });
  });
});
