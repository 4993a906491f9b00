/**
 * The request schemas of the HTTP API (zod): the same objects validate
 * requests and generate the OpenAPI document (openapi.ts).
 */
import { z } from 'zod';
import { tryParseDuration } from '../engine/duration.js';

// Bodies come from JSON.parse, so any value is JSON; z.unknown() keeps the OpenAPI schemas free of recursive $refs.
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/);
const duration = z
  .union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?(ms|s|m|h|d)$/)])
  .refine((v) => typeof tryParseDuration(v, 'duration') === 'number', { message: 'must be at most 100 years' });

export const enqueueOptionsSchema = z
  .object({
    tags: z.record(z.string(), z.string()).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    priority: z.number().int().min(1).max(4).optional(),
    idempotencyKey: z.string().min(1).max(512).optional(),
    delay: duration.optional(),
    runAt: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const startRunSchema = z
  .object({
    task: name.optional(),
    workflow: name.optional(),
    input: z.unknown().optional(),
    options: enqueueOptionsSchema.optional(),
  })
  .strict()
  .refine((b) => (b.task === undefined) !== (b.workflow === undefined), {
    message: 'give exactly one of task and workflow',
    path: ['task'],
  });

export const cancelSchema = z.object({ reason: z.string().max(1000).optional() }).strict();
export const forkSchema = z.object({ fromStep: z.string().min(1) }).strict();

export const bulkSchema = z
  .object({
    filter: z
      .object({
        status: z.union([z.string(), z.array(z.string())]).optional(),
        task: name.optional(),
        tags: z.record(z.string(), z.string()).optional(),
      })
      .strict(),
    reason: z.string().max(1000).optional(),
  })
  .strict();

export const pushEventSchema = z
  .object({
    key: name,
    payload: z.unknown().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    idempotencyKey: z.string().min(1).max(512).optional(),
  })
  .strict();

export const createScheduleSchema = z
  .object({
    task: name.optional(),
    workflow: name.optional(),
    cron: z.string().min(1).max(200).optional(),
    at: z.iso.datetime({ offset: true }).optional(),
    timezone: z.string().min(1).max(100).optional(),
    overlap: z.enum(['skip', 'queue', 'cancel-previous']).optional(),
    misfire: z.enum(['run-once', 'skip']).optional(),
    input: z.unknown().optional(),
  })
  .strict()
  .refine((b) => (b.task === undefined) !== (b.workflow === undefined), {
    message: 'give exactly one of task and workflow',
    path: ['task'],
  })
  .refine((b) => (b.cron === undefined) !== (b.at === undefined), { message: 'give exactly one of cron and at', path: ['cron'] });

export const sessionSchema = z.object({ token: z.string().min(1).max(1000) }).strict();

export const listRunsQuery = z.object({
  status: z.union([z.string(), z.array(z.string())]).optional(),
  task: z.string().optional(),
  tag: z.union([z.string(), z.array(z.string())]).optional(),
  parent: z.string().optional(),
  createdAfter: z.iso.datetime({ offset: true }).optional(),
  createdBefore: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().optional(),
});

export const listEventsQuery = z.object({
  key: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().optional(),
});

export const statsQuery = z.object({
  window: duration.optional(),
  buckets: z.coerce.number().int().min(1).max(500).optional(),
});

export type StartRunBody = z.infer<typeof startRunSchema>;
