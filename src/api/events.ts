/**
 * `baton.events`: push an event (stored, and every workflow registered as
 * listening on its key started, in one transaction), get and list events.
 * The listeners come from the store's task registry, so a process without the
 * workflows' code (an API server) starts their runs too.
 */
import { SPAN_ATTRIBUTES, traceEnqueue } from '../context/tracing.js';
import { checkOptions, is } from '../engine/options.js';
import { deserialize, serializeWithLimit } from '../engine/serializer.js';
import type { EventRecord, JsonValue } from '../engine/types.js';
import { ValidationError } from '../errors.js';
import { newId } from '../ids.js';
import type { EventRow } from '../store/types.js';
import type { BatonRuntime } from './runtime.js';
import { rowsFromTemplate } from './templates.js';

export interface PushEventOptions {
  /** JSON metadata: stored with the event and given to triggered runs as `ctx.additionalMetadata`. */
  metadata?: Record<string, JsonValue>;
  /**
   * Deduplicates deliveries: a second push with this key (per namespace), within the
   * idempotency window, stores nothing, starts and wakes nothing, and resolves to the first event.
   */
  idempotencyKey?: string;
}

/** What a push did: `deduplicated` when its idempotency key matched an earlier event (returned). */
export interface PushedEventResult {
  event: EventRecord;
  outcome: 'created' | 'deduplicated';
}

export interface EventListFilter {
  key?: string;
  /** Default 50, at most 1000. */
  limit?: number;
  cursor?: string;
}

export interface EventList {
  items: EventRecord[];
  nextCursor: string | undefined;
}

function toRecord(row: EventRow): EventRecord {
  return { id: row.id, key: row.key, payload: deserialize(row.payload), metadata: row.metadata, time: new Date(row.time) };
}

export class Events {
  readonly #runtime: BatonRuntime;

  constructor(runtime: BatonRuntime) {
    this.#runtime = runtime;
  }

  /** Stores the event and starts every workflow whose `on.events` lists `key`; resolves to the stored record. */
  async push(key: string, payload?: unknown, options: PushEventOptions = {}): Promise<EventRecord> {
    return (await this.pushWithOutcome(key, payload, options)).event;
  }

  /** @internal `push`, saying whether the idempotency key matched an earlier event (HTTP answers 200 then). */
  async pushWithOutcome(key: string, payload?: unknown, options: PushEventOptions = {}): Promise<PushedEventResult> {
    checkOptions('event', { key }, { key: is.name });
    checkOptions('event options', options, {
      metadata: is.jsonRecord,
      idempotencyKey: (v, k) =>
        typeof v === 'string' && v.length > 0 && v.length <= 512 ? undefined : `${k} must be a string of 1-512 characters`,
    });
    const encoded = serializeWithLimit(payload, `payload of event "${key}"`, this.#runtime.limits.event) ?? null;
    const runtime = this.#runtime;
    const store = await runtime.store();
    // The store's time (PostgreSQL's now() unless a clock is injected), not this process's:
    // waiters compare it with their start and wake at it, so a pusher with a skewed clock must
    // not wake them early or late.
    const time = await store.now();
    const row: EventRow = {
      id: newId(time),
      namespace: runtime.namespace,
      key,
      payload: encoded,
      metadata: { ...(options.metadata ?? {}) },
      time,
    };
    const event = toRecord(row);
    const runs = (await store.listTasks(runtime.namespace)).flatMap((entry) =>
      entry.template && entry.triggers?.events.includes(key)
        ? rowsFromTemplate(runtime, entry.template, encoded, { ...row.metadata }, { kind: 'event', event })
        : [],
    );
    const idempotency =
      options.idempotencyKey === undefined ? undefined : { key: options.idempotencyKey, windowMs: runtime.idempotencyWindowMs };
    // The push span's context is stored with the runs it starts: the parent of their attempts' spans.
    const pushed = await traceEnqueue(
      `baton.event ${key}`,
      { [SPAN_ATTRIBUTES.event]: key, [SPAN_ATTRIBUTES.runCount]: runs.length },
      runs,
      () => store.pushEvent(row, runs, idempotency),
    );
    if (pushed.runs.length > 0) (await runtime.notifier()).runsAvailable(runtime.namespace);
    return { event: pushed.outcome === 'created' ? event : toRecord(pushed.event), outcome: pushed.outcome };
  }

  async get(id: string): Promise<EventRecord | undefined> {
    const row = await (await this.#runtime.store()).getEvent(this.#runtime.namespace, id);
    return row ? toRecord(row) : undefined;
  }

  /** Newest first. */
  async list(filter: EventListFilter = {}): Promise<EventList> {
    const limit = filter.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError('events.list: limit must be an integer from 1 to 1000', [{ path: 'limit', message: 'bad' }]);
    }
    const page = await (await this.#runtime.store()).listEvents({
      namespace: this.#runtime.namespace,
      limit,
      ...(filter.key === undefined ? {} : { key: filter.key }),
      ...(filter.cursor === undefined ? {} : { cursor: filter.cursor }),
    });
    return { items: page.items.map(toRecord), nextCursor: page.nextCursor };
  }
}
