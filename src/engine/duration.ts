/**
 * The one parser for durations. Everything public accepts a number of
 * milliseconds or a string like '250ms', '30s', '5m', '2h', '7d'; inside the
 * engine only milliseconds exist.
 */

export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
/** The longest duration accepted (100 years): longer ones would put due-times past what a Date can hold. */
export const MAX_DURATION_MS = 100 * 365 * UNIT_MS.d;

/** Parses a duration, or returns an error message that names `what`. */
export function tryParseDuration(value: unknown, what: string): number | string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return `${what} must be a non-negative number of ms, got ${value}`;
    if (value > MAX_DURATION_MS) return `${what} must be at most 100 years (${MAX_DURATION_MS} ms), got ${value}`;
    return value;
  }
  if (typeof value === 'string') {
    const match = PATTERN.exec(value.trim());
    if (!match)
      return `${what} must be a number of ms or a string like '250ms', '30s', '5m', '2h', '7d'; got ${JSON.stringify(value)}`;
    const ms = Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
    if (ms > MAX_DURATION_MS) return `${what} must be at most 100 years, got ${JSON.stringify(value)}`;
    return ms;
  }
  return `${what} must be a number of ms or a duration string, got ${typeof value}`;
}

/** Parses a duration; throws a TypeError naming `what` when it is not one. */
export function parseDuration(value: Duration | string, what = 'duration'): number {
  const result = tryParseDuration(value, what);
  if (typeof result === 'string') throw new TypeError(result);
  return result;
}
