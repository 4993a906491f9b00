/**
 * Bounded waiting for integration tests: poll a condition in real time until it
 * holds or the bound passes (then fail, saying what was awaited). No guessed sleeps.
 */
import type { RunHandle, StateName } from 'baton';

export interface WaitOptions {
  /** Real milliseconds before giving up. Default 5000. */
  timeout?: number;
  /** Real milliseconds between checks. Default 5. */
  interval?: number;
  /** Names the condition in the failure message. */
  message?: string;
}

/** Resolves with the first truthy value of `cond`; rejects once `timeout` has passed. */
export async function waitFor<T>(cond: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeout = options.timeout ?? 5_000;
  const interval = options.interval ?? 5;
  const started = performance.now();
  let lastError: unknown;
  for (let tries = 0; ; tries++) {
    try {
      const value = await cond();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() - started >= timeout) {
      const what = options.message ?? String(cond);
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`waitFor: condition not met after ${timeout} ms and ${tries + 1} checks: ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Waits until the run's current state has one of the given names; resolves with that state. */
export async function waitForState(handle: RunHandle, names: StateName | readonly StateName[], options: WaitOptions = {}) {
  const wanted: readonly StateName[] = typeof names === 'string' ? [names] : names;
  return waitFor(
    async () => {
      const state = await handle.state();
      return wanted.includes(state.name) ? state : undefined;
    },
    { message: `run ${handle.id} to reach ${wanted.join(' | ')}`, ...options },
  );
}

/** A promise with its resolve function, to hold a task at a point the test controls. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
