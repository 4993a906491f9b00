import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideAfterFailure, type RetryPolicy, retryDelayMs } from '../../../src/engine/retry-policy.js';

const base: RetryPolicy = { retries: 5, retryDelay: 200, backoff: 2, maxRetryDelay: 2_000, retryJitter: 0 };
const err = new Error('x');

describe('retry policy', () => {
  it('multiplies a single delay by the backoff and caps it', () => {
    expect([0, 1, 2, 3, 4].map((a) => retryDelayMs(base, a, err, Math.random))).toEqual([200, 400, 800, 1600, 2000]);
  });

  it('takes one delay per retry from an array, repeating the last', () => {
    const policy = { ...base, retryDelay: [10, 20, 30] };
    expect([0, 1, 2, 3].map((a) => retryDelayMs(policy, a, err, Math.random))).toEqual([10, 20, 30, 30]);
  });

  it('asks a function with the failed attempt and the error', () => {
    const policy = { ...base, retryDelay: (attempt: number, e: Error) => attempt * 100 + e.message.length };
    expect(retryDelayMs(policy, 3, err, Math.random)).toBe(301);
  });

  it('keeps jittered delays inside ±jitter and under the cap (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (attempt, jitter, r) => {
          const policy = { ...base, retryJitter: jitter };
          const plain = Math.min(200 * 2 ** attempt, 2_000);
          const delay = retryDelayMs(policy, attempt, err, () => r);
          expect(delay).toBeLessThanOrEqual(2_000);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(Math.min(plain * (1 - jitter), 2_000)) - 1);
          expect(delay).toBeLessThanOrEqual(Math.ceil(plain * (1 + jitter)) + 1);
        },
      ),
    );
  });

  it('retries only retryable failures with budget left', () => {
    const facts = { attempt: 0, retries: 2, isNonRetryable: false, isRetryAllowed: true, isTimeout: false };
    expect(decideAfterFailure(facts)).toEqual({ kind: 'retry', nextAttempt: 1 });
    expect(decideAfterFailure({ ...facts, attempt: 2 })).toEqual({ kind: 'fail', stateName: 'Failed' });
    expect(decideAfterFailure({ ...facts, isNonRetryable: true })).toEqual({ kind: 'fail', stateName: 'Failed' });
    expect(decideAfterFailure({ ...facts, isRetryAllowed: false })).toEqual({ kind: 'fail', stateName: 'Failed' });
    expect(decideAfterFailure({ ...facts, attempt: 2, isTimeout: true })).toEqual({ kind: 'fail', stateName: 'TimedOut' });
  });
});
