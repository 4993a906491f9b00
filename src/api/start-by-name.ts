/**
 * Starting and scheduling a task or workflow by name, for callers without its
 * code (the HTTP API, the CLI): through its definition when this process has
 * it, else through the template the task registry holds. A name the registry
 * does not hold (or holds as the other kind) is an UnknownTaskError.
 */
import { createHash } from 'node:crypto';
import { parseDuration } from '../engine/duration.js';
import { serializeWithLimit } from '../engine/serializer.js';
import { UnknownTaskError } from '../errors.js';
import { newId } from '../ids.js';
import { closestName } from '../settings/closest-name.js';
import type { MisfirePolicy, OverlapPolicy, RunTemplate, ScheduleRow } from '../store/types.js';
import { nextFire, parseCron } from './cron.js';
import { type Enqueued, type EnqueueOptions, insertRuns } from './enqueue.js';
import type { BatonRuntime } from './runtime.js';
import type { Task } from './task.js';
import { rowsFromTemplate } from './templates.js';
import { Workflow } from './workflow.js';

export type TargetKind = 'task' | 'workflow';

// biome-ignore lint/suspicious/noExplicitAny: tasks and workflows of any types
export type LocalTarget = (name: string) => Task<any, any> | Workflow<any, any> | undefined;

/** The registry's template of `name`; throws UnknownTaskError (naming close names) when there is none of that kind. */
export async function registeredTemplate(runtime: BatonRuntime, name: string, kind: TargetKind): Promise<RunTemplate> {
  const store = await runtime.store();
  const tasks = await store.listTasks(runtime.namespace);
  const registered = tasks.find((t) => t.name === name);
  if (registered?.template && registered.kind === kind) return registered.template;
  let detail = `no ${kind} of that name is registered in namespace "${runtime.namespace}"`;
  if (registered) detail += ` (it is a ${registered.kind})`;
  else {
    const close = closestName(
      name,
      tasks.filter((t) => t.kind === kind).map((t) => t.name),
    );
    if (close) detail += `; did you mean "${close}"?`;
  }
  throw new UnknownTaskError(name, detail);
}

/** Starts one run of the task or workflow `name`; `localTarget` finds a definition this process has. */
export async function startByName(
  runtime: BatonRuntime,
  request: { kind: TargetKind; name: string; input: unknown; options: EnqueueOptions },
  localTarget?: LocalTarget,
): Promise<Enqueued> {
  const { kind, name, input, options } = request;
  const local = localTarget?.(name);
  if (local && local instanceof Workflow === (kind === 'workflow')) {
    const handle = await local.enqueue(input, options);
    return { id: handle.id, outcome: handle.outcome };
  }
  const template = await registeredTemplate(runtime, name, kind);
  const encoded = serializeWithLimit(input, `input of ${kind} "${name}"`, runtime.limits.input) ?? null;
  const rows = rowsFromTemplate(runtime, template, encoded, options.metadata ?? {}, { kind: 'manual' });
  for (const row of rows) {
    if (options.tags) row.tags = options.tags;
    if (options.priority !== undefined) row.priority = options.priority;
    if (options.delay !== undefined) row.delayMs = parseDuration(options.delay);
    if (options.runAt !== undefined) row.runAt = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
  }
  // As in an enqueue with the code: the key goes on the row a handle follows (a workflow's own row).
  if (options.idempotencyKey !== undefined && rows[0]) {
    rows[0].idempotency = {
      key: options.idempotencyKey,
      inputHash: createHash('sha256')
        .update(encoded ?? '')
        .digest('hex'),
      windowMs: runtime.idempotencyWindowMs,
    };
  }
  const [created] = await insertRuns(runtime, rows);
  return { id: created?.id ?? (rows[0]?.id as string), outcome: created?.outcome ?? 'created' };
}

export interface ScheduleByNameRequest {
  kind: TargetKind;
  name: string;
  /** A cron expression (then `timezone` applies, default UTC) … */
  cron?: string;
  timezone?: string;
  /** … or one time (ISO string or epoch ms). */
  at?: string | number;
  overlap?: OverlapPolicy;
  misfire?: MisfirePolicy;
  input?: unknown;
}

/** Persists a cron or one-off schedule of the registered task or workflow `name`. */
export async function scheduleByName(runtime: BatonRuntime, request: ScheduleByNameRequest): Promise<ScheduleRow> {
  const { kind, name } = request;
  const template = await registeredTemplate(runtime, name, kind);
  const now = runtime.clock.now();
  const isCron = request.cron !== undefined;
  const timezone = request.timezone ?? 'UTC';
  const nextFireAt = isCron
    ? nextFire(parseCron(request.cron as string, timezone), now)
    : typeof request.at === 'number'
      ? request.at
      : Date.parse(request.at as string);
  const store = await runtime.store();
  return store.createSchedule({
    id: newId(now),
    namespace: runtime.namespace,
    kind: isCron ? 'cron' : 'once',
    targetName: name,
    target: template,
    input: serializeWithLimit(request.input, `input of ${kind} "${name}"`, runtime.limits.input) ?? null,
    metadata: {},
    cron: request.cron ?? null,
    timezone: isCron ? timezone : null,
    overlap: request.overlap ?? (isCron ? 'skip' : 'queue'),
    misfire: request.misfire ?? 'run-once',
    fromCode: false,
    nextFireAt,
  });
}
