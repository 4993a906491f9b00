import { describe, expect, it } from 'vitest';
import { sleepOn } from '../../../src/clock/clock.js';
import { TestClock } from '../../../src/testing/test-clock.js';

describe('TestClock', () => {
  it('starts at the given time and moves only when advanced', async () => {
    const clock = new TestClock(new Date('2026-01-01T00:00:00Z'));
    expect(clock.date().toISOString()).toBe('2026-01-01T00:00:00.000Z');
    await clock.advance('7d');
    expect(clock.date().toISOString()).toBe('2026-01-08T00:00:00.000Z');
  });

  it('fires due timers in order, each at its own time, and lets chains settle between', async () => {
    const clock = new TestClock(0);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 2_000);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 1_000);
    void (async () => {
      await sleepOn(clock, 500);
      seen.push(`chain1@${clock.now()}`);
      await sleepOn(clock, 1_000);
      seen.push(`chain2@${clock.now()}`);
    })();
    clock.setTimeout(() => seen.push('late'), 10_000);
    await clock.advance('3s');
    expect(seen).toEqual(['chain1@500', 'a@1000', 'chain2@1500', 'b@2000']);
    expect(clock.now()).toBe(3_000);
    expect(clock.pendingTimers).toBe(1);
  });

  it('cancels timers and aborts sleeps', async () => {
    const clock = new TestClock(0);
    let fired = false;
    clock.setTimeout(() => (fired = true), 10).cancel();
    const controller = new AbortController();
    const sleeping = sleepOn(clock, 1_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    await clock.advance('2s');
    expect(fired).toBe(false);
  });

  it('calls advance listeners at each step and refuses to go backwards', async () => {
    const clock = new TestClock(0);
    const seen: number[] = [];
    clock.onAdvance((now) => {
      seen.push(now);
    });
    clock.setTimeout(() => {}, 100);
    await clock.advance(500);
    expect(seen).toEqual([100, 500]);
    await expect(clock.set(0)).rejects.toThrow(/backwards/);
  });
});
