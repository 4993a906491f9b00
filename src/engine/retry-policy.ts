/**
 * Retry decisions: whether a failed attempt is retried and after how long.
 * Pure: randomness for jitter comes in as a function.
 */

export type RetryDelaySetting = number | readonly number[] | ((attempt: number, error: Error) => number);

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** Base delay in ms, one delay per retry, or a function of the failed attempt. */
  retryDelay: RetryDelaySetting;
  /** Multiplier applied per retry to a numeric `retryDelay`. */
  backoff: number;
  /** Upper bound of any delay, in ms. */
  maxRetryDelay: number;
  /** 0..1: each delay is spread uniformly over ±jitter of itself. */
  retryJitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 0,
  retryDelay: 1_000,
  backoff: 2,
  maxRetryDelay: 300_000,
  retryJitter: 0,
};

/**
 * Delay before the retry that follows the failure of zero-based `failedAttempt`.
 * `random` returns a number in [0, 1).
 */
export function retryDelayMs(policy: RetryPolicy, failedAttempt: number, error: Error, random: () => number): number {
  const setting = policy.retryDelay;
  let delay: number;
  if (typeof setting === 'function') delay = setting(failedAttempt, error);
  else if (typeof setting === 'number') delay = setting * policy.backoff ** failedAttempt;
  else delay = setting[Math.min(failedAttempt, setting.length - 1)] ?? 0;
  if (!Number.isFinite(delay) || delay < 0) delay = 0;
  if (policy.retryJitter > 0) delay *= 1 + policy.retryJitter * (2 * random() - 1);
  return Math.round(Math.min(delay, policy.maxRetryDelay));
}

export type FailureDecision = { kind: 'retry'; nextAttempt: number } | { kind: 'fail'; stateName: 'Failed' | 'TimedOut' };

export interface FailureFacts {
  attempt: number;
  retries: number;
  /** The error is a NonRetryableError (or a validation/serialization failure). */
  isNonRetryable: boolean;
  /** What `retryIf` answered (true when there is none). */
  isRetryAllowed: boolean;
  isTimeout: boolean;
}

export function decideAfterFailure(facts: FailureFacts): FailureDecision {
  if (!facts.isNonRetryable && facts.isRetryAllowed && facts.attempt < facts.retries) {
    return { kind: 'retry', nextAttempt: facts.attempt + 1 };
  }
  return { kind: 'fail', stateName: facts.isTimeout ? 'TimedOut' : 'Failed' };
}
