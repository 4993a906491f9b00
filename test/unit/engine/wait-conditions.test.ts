import { describe, expect, it } from 'vitest';
import { chooseWinner, matchesFilter, nextSleepDeadline } from '../../../src/engine/wait-conditions.js';

describe('event filters', () => {
  it('matches nested objects as subsets and arrays and scalars exactly', () => {
    const payload = { orderId: 'o1', by: { team: 'risk', name: 'ada' }, items: [1, 2], total: 3 };
    expect(matchesFilter(payload, { orderId: 'o1' })).toBe(true);
    expect(matchesFilter(payload, { by: { team: 'risk' } })).toBe(true);
    expect(matchesFilter(payload, { by: { team: 'sales' } })).toBe(false);
    expect(matchesFilter(payload, { items: [1, 2] })).toBe(true);
    expect(matchesFilter(payload, { items: [1] })).toBe(false);
    expect(matchesFilter(payload, { missing: undefined })).toBe(false);
    expect(matchesFilter('text', { a: 1 })).toBe(false);
    expect(matchesFilter(payload, {})).toBe(true);
  });
});

describe('choosing the condition that fired', () => {
  const ev = (id: string, key: string, time: number, payload: unknown = {}) => ({ id, key, time, payload });

  it('picks the earliest met condition, an event before the deadline beating the sleep', () => {
    const groups = [[{ event: 'paid' }], [{ sleep: 1_000 }]];
    expect(chooseWinner(groups, 0, 500, [ev('e1', 'paid', 400)])).toEqual({
      index: 0,
      kind: 'event',
      events: [ev('e1', 'paid', 400)],
    });
    expect(chooseWinner(groups, 0, 2_000, [ev('e1', 'paid', 1_500)])).toEqual({ index: 1, kind: 'sleep', events: [] });
    expect(chooseWinner(groups, 0, 500, [])).toBeUndefined();
  });

  it('needs every member of a group, each event used once', () => {
    const groups = [[{ event: 'tick' }, { event: 'tick' }]];
    expect(chooseWinner(groups, 0, 10, [ev('a', 'tick', 1)])).toBeUndefined();
    expect(chooseWinner(groups, 0, 10, [ev('a', 'tick', 1), ev('b', 'tick', 2)])?.events.map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('wakes at the next deadline still ahead', () => {
    expect(nextSleepDeadline([[{ sleep: 100 }], [{ sleep: 50 }], [{ event: 'x' }]], 1_000, 1_060)).toBe(1_100);
    expect(nextSleepDeadline([[{ event: 'x' }]], 0, 0)).toBeNull();
  });
});
