/**
 * Reading command-line values: JSON given inline, as `@file` or `@-` (stdin),
 * with the line, column and position of a syntax error; `k=v` pairs; durations;
 * bounded integers. Every bad value is a CliError with exit code 2.
 */
import { readFileSync } from 'node:fs';
import { tryParseDuration } from '../engine/duration.js';
import { CliError, EXIT } from './context.js';

/** The text of an argument that may be `@path` (a file) or `@-` (standard input). */
export function readArgument(value: string, what: string): string {
  if (!value.startsWith('@')) return value;
  const path = value.slice(1);
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new CliError(`cannot read ${what} from ${path === '-' ? 'standard input' : path}: ${reason}`, EXIT.usage);
  }
}

/** Parses `value` (inline JSON, `@file` or `@-`); a syntax error names where it is. */
export function jsonArgument(value: string, what: string): unknown {
  const text = readArgument(value, what);
  try {
    return JSON.parse(text);
  } catch {
    const position = jsonErrorPosition(text);
    const before = text.slice(0, position);
    const line = before.split('\n').length;
    const column = position - before.lastIndexOf('\n');
    const found = position >= text.length ? 'unexpected end of input' : `unexpected ${JSON.stringify(text[position])}`;
    throw new CliError(
      `${what} is not valid JSON: ${found} at line ${line}, column ${column} (position ${position})`,
      EXIT.usage,
    );
  }
}

/** `--input`-like JSON that must be an object. */
export function jsonObjectArgument(value: string, what: string): Record<string, unknown> {
  const parsed = jsonArgument(value, what);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`${what} must be a JSON object, got ${JSON.stringify(parsed)}`, EXIT.usage);
  }
  return parsed as Record<string, unknown>;
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `['a=1', 'b=2']` → `{ a: '1', b: '2' }`. */
export function pairsArgument(values: readonly string[] | undefined, what: string): Record<string, string> | undefined {
  if (!values || values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    if (at <= 0) throw new CliError(`${what} must be key=value, got ${JSON.stringify(value)}`, EXIT.usage);
    out[value.slice(0, at)] = value.slice(at + 1);
  }
  return out;
}

/** A duration (`250ms`, `30s`, `5m`, `2h`, `7d`, or ms) in ms. */
export function durationArgument(value: string, what: string): number {
  const parsed = tryParseDuration(/^\d+(\.\d+)?$/.test(value) ? Number(value) : value, what);
  if (typeof parsed === 'string') throw new CliError(parsed, EXIT.usage);
  return parsed;
}

/** An integer from `min` to `max`. */
export function integerArgument(value: string, what: string, min: number, max: number): number {
  const parsed = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || parsed < min || parsed > max) {
    throw new CliError(`${what} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`, EXIT.usage);
  }
  return parsed;
}

/**
 * Where `JSON.parse` gives up on `text` (Node's own message does not always say): the
 * offset of the first character that cannot continue a JSON text, or the length for an
 * early end.
 */
export function jsonErrorPosition(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const string = () => {
    i++; // the opening quote
    while (i < text.length) {
      const ch = text[i] as string;
      if (ch === '"') {
        i++;
        return;
      }
      if (ch === '\\') {
        i++;
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) {
              i += k;
              fail();
            }
          }
          i += 5;
        } else if (i < text.length && '"\\/bfnrt'.includes(text[i] as string)) i++;
        else fail();
      } else if (ch < ' ') fail();
      else i++;
    }
    fail();
  };
  const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const value = (): void => {
    space();
    const ch = text[i];
    if (ch === '{' || ch === '[') {
      const close = ch === '{' ? '}' : ']';
      i++;
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (ch === '{') {
          space();
          if (text[i] !== '"') fail();
          string();
          space();
          if (text[i] !== ':') fail();
          i++;
        }
        value();
        space();
        if (text[i] === ',') i++;
        else if (text[i] === close) {
          i++;
          return;
        } else fail();
      }
    }
    if (ch === '"') {
      string();
      return;
    }
    NUMBER.lastIndex = i;
    const number = NUMBER.exec(text);
    if (number) {
      i += number[0].length;
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    fail();
  };
  try {
    value();
    space();
    if (i < text.length) fail();
    return text.length;
  } catch (position) {
    return Math.min(position as number, text.length);
  }
}
