/**
 * Carrying a run's context across a process boundary (worker threads, child
 * processes, another service over HTTP). `serializeContext()` signs the ids,
 * tags, metadata, custom context and scopes in force with the instance's secret;
 * `hydratedContext(text, fn)` verifies the signature with a Baton instance of
 * this process on the same database and namespace, checks that the attempt is
 * still live, and runs `fn` with that context restored: enqueues inside become
 * children of the run, `ctx.log` writes to it (fenced by its lease epoch).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TriggerOrigin } from '../engine/types.js';
import { InvalidStateError, MissingContextError, ValidationError } from '../errors.js';
import { type AttemptFrame, ambientStorage, currentScope, openFrame } from './ambient-store.js';
import { type AttemptControl, TaskContext, type WorkerInfo } from './task-context.js';

export interface SerializedContextPayload {
  v: 1;
  ns: string;
  runId: string;
  workflowRunId: string;
  workflowId: string;
  workflowVersionId: string;
  workflowName: string;
  taskName: string;
  epoch: number;
  attempt: number;
  priority: number;
  parentWorkflowRunId: string | null;
  origin: TriggerOrigin;
  tags: Record<string, string>;
  metadata: Record<string, unknown>;
  runCustomContext: Record<string, string>;
  scopeTags: Record<string, string>;
  scopeCustomContext: Record<string, string>;
  worker: WorkerInfo;
  /** Added within version 1: readers of older strings see ''. */
  rawDataPath?: string;
  issuedAt: number;
}

/** What a Baton instance offers to verify and hydrate serialized contexts. */
export interface ContextHost {
  readonly namespace: string;
  secret(): Promise<Buffer>;
  /** Checks the attempt is live and returns operations bound to its lease. */
  hydrate(payload: SerializedContextPayload): Promise<AttemptControl>;
}

/** What an attempt knows that its serialized form needs. */
export interface SerializableAttempt {
  readonly namespace: string;
  readonly leaseEpoch: number;
  readonly origin: TriggerOrigin;
  readonly runCustomContext: Record<string, string>;
  readonly secret: Buffer;
}

const HOSTS_KEY = Symbol.for('baton.contextHosts');
const ATTEMPTS_KEY = Symbol.for('baton.serializableAttempts');
const holder = globalThis as unknown as Record<symbol, unknown>;
holder[HOSTS_KEY] ??= new Set<ContextHost>();
holder[ATTEMPTS_KEY] ??= new WeakMap<TaskContext, SerializableAttempt>();
const hosts = holder[HOSTS_KEY] as Set<ContextHost>;
const attempts = holder[ATTEMPTS_KEY] as WeakMap<TaskContext, SerializableAttempt>;

export function registerContextHost(host: ContextHost): () => void {
  hosts.add(host);
  return () => hosts.delete(host);
}

/** Worker use: marks a context as serializable with its attempt's facts. */
export function makeSerializable(context: TaskContext, attempt: SerializableAttempt): void {
  attempts.set(context, attempt);
}

function sign(secret: Buffer, body: string): string {
  return createHmac('sha256', secret).update(body).digest('base64url');
}

/** The current run's context as a signed string; throws MissingContextError outside a task. */
export function serializeContext(): string {
  const frame = openFrame();
  if (!frame) throw new MissingContextError('serializeContext()');
  const ctx = frame.context;
  const attempt = attempts.get(ctx);
  if (!attempt) throw new InvalidStateError('this context cannot be serialized (it is a test context)');
  const scope = currentScope();
  const payload: SerializedContextPayload = {
    v: 1,
    ns: attempt.namespace,
    runId: ctx.taskRunId,
    workflowRunId: ctx.workflowRunId,
    workflowId: ctx.workflowId,
    workflowVersionId: ctx.workflowVersionId,
    workflowName: ctx.workflowName,
    taskName: ctx.taskName,
    epoch: attempt.leaseEpoch,
    attempt: ctx.attempt,
    priority: ctx.priority,
    parentWorkflowRunId: ctx.parentWorkflowRunId ?? null,
    origin: attempt.origin,
    tags: { ...ctx.tags },
    metadata: { ...ctx.additionalMetadata },
    runCustomContext: attempt.runCustomContext,
    scopeTags: { ...scope.tags },
    scopeCustomContext: { ...scope.customContext },
    worker: { ...ctx.worker, labels: { ...ctx.worker.labels } },
    rawDataPath: ctx.rawDataPath,
    issuedAt: Date.now(),
  };
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `bt${SERIALIZED_CONTEXT_VERSION}.${body}.${sign(attempt.secret, body)}`;
}

/** The format version this Baton writes and reads: `bt<version>.` prefix and the payload's `v`. */
export const SERIALIZED_CONTEXT_VERSION = 1;

function refuseVersion(version: string): never {
  throw new ValidationError(
    `serialized Baton context has format version ${version}, but this Baton reads version ${SERIALIZED_CONTEXT_VERSION}; ` +
      'run the same Baton version on both sides',
  );
}

function parse(serialized: string): { body: string; signature: string; payload: SerializedContextPayload } {
  const parts = typeof serialized === 'string' ? serialized.split('.') : [];
  const version = parts.length === 3 ? /^bt(\d+)$/.exec(parts[0] ?? '')?.[1] : undefined;
  if (version === undefined) {
    throw new ValidationError('not a serialized Baton context (expected bt1.<payload>.<signature>)');
  }
  if (Number(version) !== SERIALIZED_CONTEXT_VERSION) refuseVersion(version);
  const [, body, signature] = parts as [string, string, string];
  let payload: SerializedContextPayload;
  try {
    payload = withDefaults(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
  } catch {
    throw new ValidationError('serialized Baton context is malformed');
  }
  if (payload.v !== SERIALIZED_CONTEXT_VERSION) refuseVersion(String(payload.v));
  return { body, signature, payload };
}

/**
 * Checks the fields every version-1 payload has and fills the maps a reader
 * may miss, so fields added later within version 1 stay optional (readers
 * ignore fields they do not know).
 */
function withDefaults(value: unknown): SerializedContextPayload {
  const p = value as Partial<SerializedContextPayload> & Record<string, unknown>;
  const ids = [p.ns, p.runId, p.workflowRunId, p.taskName];
  if (typeof value !== 'object' || value === null || ids.some((id) => typeof id !== 'string') || typeof p.epoch !== 'number') {
    throw new Error('shape');
  }
  const map = <T>(field: T | undefined): T => (typeof field === 'object' && field !== null ? field : ({} as T));
  return {
    ...p,
    tags: map(p.tags),
    metadata: map(p.metadata),
    runCustomContext: map(p.runCustomContext),
    scopeTags: map(p.scopeTags),
    scopeCustomContext: map(p.scopeCustomContext),
    parentWorkflowRunId: p.parentWorkflowRunId ?? null,
    origin: p.origin ?? { kind: 'manual' },
    worker: { id: p.worker?.id ?? '', name: p.worker?.name ?? '', labels: map(p.worker?.labels) },
  } as SerializedContextPayload;
}

/**
 * Runs `fn` with the serialized context restored. Refuses tampered strings,
 * strings from another database or namespace, and contexts whose attempt ended.
 */
export async function hydratedContext<T>(serialized: string, fn: () => T | Promise<T>): Promise<T> {
  const { body, signature, payload } = parse(serialized);
  let host: ContextHost | undefined;
  let secret: Buffer | undefined;
  for (const candidate of hosts) {
    if (candidate.namespace !== payload.ns) continue;
    const candidateSecret = await candidate.secret();
    const expected = Buffer.from(sign(candidateSecret, body));
    const given = Buffer.from(signature);
    if (expected.length === given.length && timingSafeEqual(expected, given)) {
      host = candidate;
      secret = candidateSecret;
      break;
    }
  }
  if (!host) {
    throw new ValidationError(
      'serialized context was refused: its signature matches no Baton instance in this process (tampered, or from another database or namespace)',
    );
  }
  const control = await host.hydrate(payload);
  const context = new TaskContext(
    {
      taskRunId: payload.runId,
      workflowRunId: payload.workflowRunId,
      workflowId: payload.workflowId,
      workflowVersionId: payload.workflowVersionId,
      workflowName: payload.workflowName,
      taskName: payload.taskName,
      attempt: payload.attempt,
      tags: payload.tags,
      additionalMetadata: payload.metadata,
      priority: payload.priority,
      input: undefined,
      workflowInput: undefined,
      parentWorkflowRunId: payload.parentWorkflowRunId ?? undefined,
      origin: payload.origin,
      lifespan: undefined,
      customContext: payload.runCustomContext,
      rawDataPath: payload.rawDataPath ?? '',
      worker: payload.worker,
      upstream: { outputs: new Map(), errors: {} },
    },
    control,
  );
  // A hydrated context can travel on (a service that calls another one), bound to the same attempt.
  makeSerializable(context, {
    namespace: payload.ns,
    leaseEpoch: payload.epoch,
    origin: payload.origin,
    runCustomContext: payload.runCustomContext,
    secret: secret as Buffer,
  });
  const frame: AttemptFrame = { context, closed: false };
  try {
    return await ambientStorage.run(
      { frame, tags: payload.scopeTags, customContext: { ...payload.runCustomContext, ...payload.scopeCustomContext } },
      fn,
    );
  } finally {
    frame.closed = true;
  }
}
