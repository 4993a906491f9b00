/**
 * Checks option objects at definition time: unknown keys and bad values throw
 * a ValidationError that names the key (DESIGN.md §2.12 "Options").
 */
import { ValidationError } from '../errors.js';
import { tryParseDuration } from './duration.js';

/** Returns an error message for a bad value, or undefined when it is fine. */
export type OptionCheck = (value: unknown, key: string) => string | undefined;

export function checkOptions(where: string, options: unknown, spec: Record<string, OptionCheck>): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ValidationError(`${where} must be an object`);
  }
  const issues: { path: string; message: string }[] = [];
  for (const [key, value] of Object.entries(options)) {
    const check = spec[key];
    if (!check) {
      issues.push({ path: key, message: `unknown option "${key}" (known: ${Object.keys(spec).join(', ')})` });
      continue;
    }
    if (value === undefined) continue;
    const problem = check(value, key);
    if (problem) issues.push({ path: key, message: problem });
  }
  if (issues.length > 0) {
    throw new ValidationError(`${where}: ${issues.map((i) => i.message).join('; ')}`, issues);
  }
}

export const is = {
  any: (): undefined => undefined,
  string: (value: unknown, key: string) => (typeof value === 'string' ? undefined : `${key} must be a string`),
  name: (value: unknown, key: string) =>
    typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/.test(value)
      ? undefined
      : `${key} must be 1-200 characters of letters, digits and . _ : / - (starting with a letter or digit), got ${JSON.stringify(value)}`,
  boolean: (value: unknown, key: string) => (typeof value === 'boolean' ? undefined : `${key} must be true or false`),
  function: (value: unknown, key: string) => (typeof value === 'function' ? undefined : `${key} must be a function`),
  integer:
    (min: number, max = Number.MAX_SAFE_INTEGER) =>
    (value: unknown, key: string) =>
      Number.isInteger(value) && (value as number) >= min && (value as number) <= max
        ? undefined
        : `${key} must be an integer from ${min} to ${max}, got ${String(value)}`,
  number:
    (min: number, max = Number.POSITIVE_INFINITY) =>
    (value: unknown, key: string) =>
      typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max
        ? undefined
        : `${key} must be a number from ${min} to ${max}, got ${String(value)}`,
  duration: (value: unknown, key: string) => {
    const result = tryParseDuration(value, key);
    return typeof result === 'string' ? result : undefined;
  },
  positiveDuration: (value: unknown, key: string) => {
    const result = tryParseDuration(value, key);
    if (typeof result === 'string') return result;
    return result > 0 ? undefined : `${key} must be longer than 0`;
  },
  stringRecord: (value: unknown, key: string) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${key} must be an object of strings`;
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') return `${key}.${k} must be a string, got ${typeof v}`;
    }
    return undefined;
  },
  jsonRecord: (value: unknown, key: string) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${key} must be an object`;
    try {
      JSON.stringify(value);
    } catch {
      return `${key} must be JSON (no cycles or BigInt)`;
    }
    return undefined;
  },
  oneOf:
    (...allowed: string[]) =>
    (value: unknown, key: string) =>
      allowed.includes(value as string) ? undefined : `${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`,
  schema: (value: unknown, key: string) =>
    typeof value === 'object' && value !== null && '~standard' in value
      ? undefined
      : `${key} must be a Standard Schema validator (zod, valibot, arktype…)`,
} satisfies Record<string, OptionCheck | ((...args: never[]) => OptionCheck)>;
