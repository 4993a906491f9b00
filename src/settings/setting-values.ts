/**
 * The kinds of value a setting can hold, each parsed from JSON (profile files) and
 * from text (environment variables) into one normalised value. Pure: no I/O, and it
 * knows nothing of which settings exist (that is settings-schema.ts).
 */
import { tryParseDuration } from '../engine/duration.js';

/** A normalised setting value: durations are milliseconds, `undefined` means "not set". */
export type SettingValue = string | number | undefined;

export type Parsed = { readonly value: SettingValue } | { readonly problem: string };

export interface ValueKind {
  /** What a good value looks like, for the README and `baton doctor`. */
  readonly describe: string;
  /** Checks a value read from a JSON file. */
  fromJson(value: unknown): Parsed;
  /** Parses the text of an environment variable (never empty: empty means unset). */
  fromText(text: string): Parsed;
}

const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** A non-empty string, optionally with an extra check that returns a problem. */
export function text(describe = 'a non-empty string', check?: (value: string) => string | undefined): ValueKind {
  const parse = (value: unknown): Parsed => {
    if (typeof value !== 'string' || value.trim() === '') return { problem: `must be ${describe}, got ${show(value)}` };
    const problem = check?.(value);
    return problem ? { problem } : { value };
  };
  return { describe, fromJson: parse, fromText: parse };
}

export function integer(min: number, max: number): ValueKind {
  const describe = `an integer from ${min} to ${max}`;
  const check = (value: number, original: unknown): Parsed =>
    Number.isSafeInteger(value) && value >= min && value <= max
      ? { value }
      : { problem: `must be ${describe}, got ${show(original)}` };
  return {
    describe,
    fromJson: (value) =>
      typeof value === 'number' ? check(value, value) : { problem: `must be ${describe}, got ${show(value)}` },
    fromText: (text) =>
      /^\s*-?\d+\s*$/.test(text) ? check(Number(text), text) : { problem: `must be ${describe}, got ${show(text)}` },
  };
}

/** A duration (ms or '30s'), normalised to milliseconds, at least `minMs`. */
export function duration(minMs: number): ValueKind {
  const describe = `a duration (milliseconds, or a string like '250ms', '30s', '5m') of at least ${minMs}ms`;
  const parse = (value: unknown): Parsed => {
    const ms = tryParseDuration(value, 'value');
    if (typeof ms === 'string') return { problem: `must be ${describe}, got ${show(value)}` };
    return ms >= minMs ? { value: ms } : { problem: `must be at least ${minMs}ms, got ${show(value)}` };
  };
  return {
    describe,
    fromJson: parse,
    // An environment variable is always text; bare digits mean milliseconds, as a JSON number does.
    fromText: (text) => parse(/^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text.trim()),
  };
}

export function oneOf(...allowed: string[]): ValueKind {
  const describe = `one of ${allowed.join(', ')}`;
  const parse = (value: unknown): Parsed =>
    allowed.includes(value as string) ? { value: value as string } : { problem: `must be ${describe}, got ${show(value)}` };
  return { describe, fromJson: parse, fromText: (text) => parse(text.trim()) };
}
