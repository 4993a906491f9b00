import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { afterLeaseExpiry, type SettlementKind, settledState } from '../../../src/engine/run-rules.js';
import { canTransition, isTerminal, STATE_NAMES, STATE_TYPE, sourcesOf, TERMINAL_STATES } from '../../../src/engine/states.js';
import type { StateName } from '../../../src/engine/types.js';

describe('state machine', () => {
  it('gives every state the coarse type of DESIGN.md §2.7', () => {
    expect(STATE_TYPE.AwaitingRetry).toBe('SCHEDULED');
    expect(STATE_TYPE.TimedOut).toBe('FAILED');
    expect(STATE_TYPE.Cached).toBe('COMPLETED');
    expect(STATE_TYPE.Skipped).toBe('COMPLETED');
    expect(STATE_TYPE.Retrying).toBe('RUNNING');
    expect(TERMINAL_STATES.map((s) => STATE_TYPE[s]).sort()).toEqual(
      ['CANCELLED', 'COMPLETED', 'COMPLETED', 'COMPLETED', 'CRASHED', 'FAILED', 'FAILED'].sort(),
    );
  });

  it('lets terminal states leave only through a retry by hand (to Pending)', () => {
    for (const from of TERMINAL_STATES) {
      for (const to of STATE_NAMES) {
        if (canTransition(from, to)) expect(to).toBe('Pending');
      }
    }
    expect(canTransition('Completed', 'Pending')).toBe(false);
  });

  it('derives the guard list of a target from the table', () => {
    expect(sourcesOf('Cancelling').sort()).toEqual(['Retrying', 'Running']);
    expect(sourcesOf('Completed').sort()).toEqual(['Retrying', 'Running']);
  });

  it('only settles leased runs, and a committed cancellation always wins', () => {
    const kinds: SettlementKind[] = ['complete', 'retry', 'fail', 'cancel', 'release'];
    fc.assert(
      fc.property(fc.constantFrom(...STATE_NAMES), fc.constantFrom(...kinds), (state: StateName, kind) => {
        const next = settledState(state, kind, 'TimedOut');
        if (state === 'Cancelling') expect(next).toBe('Cancelled');
        else if (state === 'Running' || state === 'Retrying') {
          expect(next).not.toBeNull();
          expect(canTransition(state, next as StateName)).toBe(true);
        } else expect(next).toBeNull();
      }),
    );
  });

  it('re-queues an expired lease until maxCrashes, then crashes the run', () => {
    expect(afterLeaseExpiry({ status: 'Running', crashCount: 0, maxCrashes: 3 })).toBe('Pending');
    expect(afterLeaseExpiry({ status: 'Running', crashCount: 2, maxCrashes: 3 })).toBe('Pending');
    expect(afterLeaseExpiry({ status: 'Running', crashCount: 3, maxCrashes: 3 })).toBe('Crashed');
    expect(afterLeaseExpiry({ status: 'Running', crashCount: 0, maxCrashes: 0 })).toBe('Crashed');
    expect(afterLeaseExpiry({ status: 'Cancelling', crashCount: 0, maxCrashes: 3 })).toBe('Cancelled');
    expect(isTerminal('Crashed')).toBe(true);
  });
});
