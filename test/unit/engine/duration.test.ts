import { describe, expect, it } from 'vitest';
import { parseDuration, tryParseDuration } from '../../../src/engine/duration.js';

describe('durations', () => {
  it.each([
    [250, 250],
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['1.5s', 1_500],
    [0, 0],
  ])('parses %j as %d ms', (input, ms) => {
    expect(parseDuration(input as never)).toBe(ms);
  });

  it.each([[-1], [Number.NaN], [Number.POSITIVE_INFINITY], ['5 minutes'], ['10'], ['s'], [''], [null], [{}]])(
    'rejects %j with a message naming the setting',
    (input) => {
      const result = tryParseDuration(input, 'retryDelay');
      expect(typeof result).toBe('string');
      expect(result).toMatch(/retryDelay/);
      expect(() => parseDuration(input as never, 'retryDelay')).toThrow(/retryDelay/);
    },
  );
});
