/**
 * Validation through any Standard Schema validator (zod, valibot, arktype…).
 * Failures become a ValidationError that names each failing field.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationError, type ValidationIssue } from '../errors.js';

export type Schema<Input = unknown, Output = Input> = StandardSchemaV1<Input, Output>;

export async function validateWith<T>(schema: Schema<unknown, T> | undefined, value: unknown, what: string): Promise<T> {
  if (!schema) return value as T;
  let result = schema['~standard'].validate(value);
  if (result instanceof Promise) result = await result;
  if (result.issues) {
    const issues = result.issues.map(toIssue);
    const list = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    throw new ValidationError(`${what} is invalid: ${list}`, issues);
  }
  return result.value;
}

/** `validateWith` for synchronous validators; an asynchronous one is refused with a TypeError. */
export function validateSync<T>(schema: Schema<unknown, T> | undefined, value: unknown, what: string): T {
  if (!schema) return value as T;
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) throw new TypeError(`${what}: the schema validates asynchronously; use a synchronous one`);
  if (result.issues) {
    const issues = result.issues.map(toIssue);
    const list = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    throw new ValidationError(`${what} is invalid: ${list}`, issues);
  }
  return result.value;
}

function toIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const path = (issue.path ?? [])
    .map((segment) => (typeof segment === 'object' && segment !== null ? segment.key : segment))
    .map(String)
    .join('.');
  return { path, message: issue.message };
}
