/**
 * A clock that moves only when told to. `advance('7d')` fires every timer due
 * in between, in due order, letting promise chains settle after each, and then
 * lets Baton renew leases, sweep and wake workers at the new time.
 */
import type { Clock, TimerHandle } from '../clock/clock.js';
import { type Duration, parseDuration } from '../engine/duration.js';

interface Timer {
  due: number;
  seq: number;
  callback: () => void;
}

/** Macrotask turns to let work triggered by a timer (I/O callbacks included) settle. */
const SETTLE_TURNS = 20;

export class TestClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];
  #listeners = new Set<(now: number) => void | Promise<void>>();

  constructor(start?: Date | number) {
    this.#now = start === undefined ? Date.now() : typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  /** The current time as a Date. */
  date(): Date {
    return new Date(this.#now);
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: Timer = { due: this.#now + Math.max(0, ms), seq: this.#seq++, callback };
    this.#timers.push(timer);
    return {
      cancel: () => {
        this.#timers = this.#timers.filter((t) => t !== timer);
      },
    };
  }

  /** Resolves when the clock has been advanced by `duration`. */
  sleep(duration: Duration): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, parseDuration(duration)));
  }

  onAdvance(listener: (now: number) => void | Promise<void>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward, firing every timer due on the way, in order. */
  async advance(duration: Duration): Promise<void> {
    const target = this.#now + parseDuration(duration, 'advance duration');
    await this.#runUntil(target);
  }

  /** Moves time to `date` (never backwards). */
  async set(date: Date | number): Promise<void> {
    const target = typeof date === 'number' ? date : date.getTime();
    if (target < this.#now) throw new RangeError('TestClock cannot move backwards');
    await this.#runUntil(target);
  }

  async #runUntil(target: number): Promise<void> {
    for (let fired = 0; fired < 1_000_000; fired++) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      if (next.due > this.#now) {
        this.#now = next.due;
        await this.#notify();
      }
      next.callback();
      await settle();
    }
    this.#now = target;
    await this.#notify();
    await settle();
  }

  #nextDue(target: number): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.#timers) {
      if (timer.due > target) continue;
      if (!best || timer.due < best.due || (timer.due === best.due && timer.seq < best.seq)) best = timer;
    }
    return best;
  }

  async #notify(): Promise<void> {
    for (const listener of this.#listeners) await listener(this.#now);
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < SETTLE_TURNS; i++) await new Promise((resolve) => setImmediate(resolve));
}
