/** The task registry (GET api/v1/tasks), and a skeleton input built from a task's JSON Schema. */
import { useResource } from '../lib/hooks';
import { api } from './client';
import type { Page, RegisteredTask } from './types';

export function useTasks() {
  return useResource('tasks', (signal) => api.get<Page<RegisteredTask>>('tasks', undefined, signal));
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  examples?: unknown[];
  enum?: unknown[];
  const?: unknown;
  items?: JsonSchema;
  description?: string;
}

function asSchema(value: unknown): JsonSchema | undefined {
  return value !== null && typeof value === 'object' ? (value as JsonSchema) : undefined;
}

/** An example value for a schema: its default, example or enum value, else an empty value of its type. */
export function exampleFor(schemaValue: unknown, depth = 0): unknown {
  const schema = asSchema(schemaValue);
  if (!schema || depth > 8) return null;
  if (schema.default !== undefined) return schema.default;
  if (schema.examples?.length) return schema.examples[0];
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'string':
      return '';
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, prop] of Object.entries(schema.properties ?? {})) out[key] = exampleFor(prop, depth + 1);
      return out;
    }
    default:
      return schema.properties ? exampleFor({ ...schema, type: 'object' }, depth) : null;
  }
}

export interface SchemaField {
  name: string;
  type: string;
  isRequired: boolean;
  description?: string;
}

/** The top-level fields of an object schema, for the form's field list. */
export function schemaFields(schemaValue: unknown): SchemaField[] {
  const schema = asSchema(schemaValue);
  if (!schema?.properties) return [];
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([name, prop]) => ({
    name,
    type: Array.isArray(prop.type) ? prop.type.join(' | ') : (prop.type ?? (prop.enum ? 'enum' : 'any')),
    isRequired: required.has(name),
    description: prop.description,
  }));
}
