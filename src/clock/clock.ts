/**
 * Time for everything that has a due-time: delays, retry delays, timeouts,
 * leases, sleeps, crons. The system clock is real time; `TestClock`
 * (baton/testing) moves only when told to. Engine and worker code never call
 * Date.now() or setTimeout for due-times: they ask a Clock.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once `ms` have passed on this clock. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /**
   * Virtual clocks call these listeners after time jumps (and await them), so a live
   * worker renews its leases and the sweeper looks at the new time before anyone else.
   */
  onAdvance?(listener: (now: number) => void | Promise<void>): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, Math.max(0, ms));
    return { cancel: () => clearTimeout(timer) };
  },
};

/**
 * `base` shifted by `offsetMs` (a machine whose clock is off): now() moves, relative timers do not.
 * Listeners of a virtual base clock see the shifted time.
 */
export function shiftedClock(base: Clock, offsetMs: number): Clock {
  const shifted: Clock = {
    now: () => base.now() + offsetMs,
    setTimeout: (callback, ms) => base.setTimeout(callback, ms),
  };
  const onAdvance = base.onAdvance?.bind(base);
  if (onAdvance) shifted.onAdvance = (listener) => onAdvance((now) => listener(now + offsetMs));
  return shifted;
}

/** Resolves after `ms` on `clock`, or rejects with the signal's reason when it aborts. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      timer.cancel();
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
