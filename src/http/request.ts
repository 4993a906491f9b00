/** Reading requests: JSON bodies (malformed → 400 with the position) and query strings, checked by zod schemas (→ 422 / 400 with fields). */
import type { Context } from 'hono';
import type { z } from 'zod';
import { HttpError } from './errors.js';

function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

export async function readBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch (error) {
      const message = (error as Error).message;
      // Every answer names where the JSON broke (Node's message does not for an early end).
      const where = /position \d+/.test(message) ? '' : ` (at position ${text.length})`;
      throw new HttpError(400, 'BATON_MALFORMED_JSON', `malformed JSON: ${message}${where}`);
    }
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = issuesOf(result.error);
    throw new HttpError(
      422,
      'BATON_VALIDATION',
      `invalid request body: ${issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; ')}`,
      issues,
    );
  }
  return result.data;
}

export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const raw: Record<string, string | string[]> = {};
  for (const [key, values] of Object.entries(c.req.queries())) {
    if (key === 'namespace') continue;
    raw[key] = values.length === 1 ? (values[0] as string) : values;
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issues = issuesOf(result.error);
    throw new HttpError(
      400,
      'BATON_BAD_QUERY',
      `invalid query: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
    );
  }
  return result.data;
}

export function asList(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value : [value];
}
