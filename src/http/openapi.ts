/** The OpenAPI 3.1 document of /api/v1, generated from the zod schemas that validate the requests. */
import { z } from 'zod';
import {
  bulkSchema,
  cancelSchema,
  createScheduleSchema,
  forkSchema,
  listEventsQuery,
  listRunsQuery,
  pushEventSchema,
  sessionSchema,
  startRunSchema,
  statsQuery,
} from './schemas.js';

type Schema = z.ZodType;

function jsonSchema(schema: Schema): unknown {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
}

const errorResponse = {
  description: 'error',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          error: {
            type: 'object',
            properties: {
              code: { type: 'string' },
              message: { type: 'string' },
              issues: {
                type: 'array',
                items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
              },
            },
            required: ['code', 'message'],
          },
        },
        required: ['error'],
      },
    },
  },
};

function queryParameters(schema: z.ZodObject): unknown[] {
  return Object.keys(schema.shape).map((name) => ({
    name,
    in: 'query',
    required: false,
    schema: jsonSchema(schema.shape[name] as Schema),
  }));
}

interface Operation {
  summary: string;
  body?: Schema;
  query?: z.ZodObject;
  ok: number;
  sse?: boolean;
}

function operation(op: Operation, pathParams: string[]): Record<string, unknown> {
  const responses: Record<string, unknown> = {
    [String(op.ok)]: op.sse
      ? { description: 'server-sent events', content: { 'text/event-stream': { schema: { type: 'string' } } } }
      : { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
  };
  for (const status of ['400', '401', '403', '404', '409', '413', '422']) responses[status] = errorResponse;
  return {
    summary: op.summary,
    parameters: [
      ...pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      { name: 'namespace', in: 'query', required: false, schema: { type: 'string' } },
      ...(op.query ? queryParameters(op.query) : []),
    ],
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } } } : {}),
    responses,
  };
}

const ROUTES: [string, string, Operation][] = [
  ['post', '/runs', { summary: 'Start a task or workflow run', body: startRunSchema, ok: 201 }],
  ['get', '/runs', { summary: 'List runs, newest first', query: listRunsQuery, ok: 200 }],
  ['get', '/runs/{id}', { summary: 'A run with its states, attempts, children, DAG and steps', ok: 200 }],
  ['get', '/runs/{id}/logs', { summary: "A run's log lines", ok: 200 }],
  ['get', '/runs/{id}/live', { summary: 'Live state changes and log lines (SSE)', ok: 200, sse: true }],
  ['get', '/runs/{id}/stream', { summary: "A run's stream chunks (SSE)", ok: 200, sse: true }],
  ['post', '/runs/{id}/cancel', { summary: 'Cancel a run and its children', body: cancelSchema, ok: 200 }],
  ['post', '/runs/{id}/retry', { summary: 'Give an ended run a new attempt', ok: 200 }],
  ['post', '/runs/{id}/resume', { summary: 'Resume an ended durable run from its recorded steps (same as retry)', ok: 200 }],
  ['post', '/runs/{id}/replay', { summary: 'Start a new run with the same input', ok: 201 }],
  ['post', '/runs/{id}/fork', { summary: 'A new run reusing the steps before fromStep', body: forkSchema, ok: 201 }],
  ['post', '/runs/bulk/cancel', { summary: 'Cancel every matching run', body: bulkSchema, ok: 200 }],
  ['post', '/runs/bulk/retry', { summary: 'Retry every matching run', body: bulkSchema, ok: 200 }],
  ['post', '/runs/bulk/resume', { summary: 'Resume every matching run (same as retry)', body: bulkSchema, ok: 200 }],
  ['post', '/runs/bulk/replay', { summary: 'Replay every matching run', body: bulkSchema, ok: 200 }],
  ['post', '/events', { summary: 'Push an event', body: pushEventSchema, ok: 201 }],
  ['get', '/events', { summary: 'List events', query: listEventsQuery, ok: 200 }],
  ['get', '/schedules', { summary: 'List schedules', ok: 200 }],
  ['post', '/schedules', { summary: 'Create a cron or one-off schedule', body: createScheduleSchema, ok: 201 }],
  ['delete', '/schedules/{id}', { summary: 'Delete a schedule', ok: 204 }],
  ['get', '/workers', { summary: 'Workers and their slots', ok: 200 }],
  ['get', '/tasks', { summary: 'Registered tasks and workflows', ok: 200 }],
  ['get', '/stats', { summary: 'Throughput, failures and latency over time', query: statsQuery, ok: 200 }],
  ['post', '/session', { summary: 'Dashboard login: exchange a token for a session cookie', body: sessionSchema, ok: 200 }],
  ['delete', '/session', { summary: 'Dashboard logout', ok: 204 }],
  ['get', '/openapi.json', { summary: 'This document', ok: 200 }],
];

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [method, path, op] of ROUTES) {
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[method] = {
      ...operation(op, params),
      ...(path === '/session' ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Baton HTTP API', version: '1' },
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

/** Every route of the document as `METHOD /path` (used by the test that every route requires auth). */
export function documentedRoutes(): string[] {
  return ROUTES.map(([method, path]) => `${method.toUpperCase()} ${path}`);
}
