/**
 * OpenTelemetry, through `@opentelemetry/api` only (a no-op until the application
 * registers an SDK): spans for enqueues, attempts and durable steps, and the W3C
 * trace context (`traceparent`, `tracestate`, `baggage`) that a run stores at its
 * enqueue and that becomes the parent of each of its attempts, and through them of
 * its children. The headers are parsed and formatted here, so propagation does not
 * depend on which global propagator the application registered. Nothing here may
 * throw into the engine, and without an SDK it costs a few allocations per run.
 */
import {
  type Attributes,
  type Baggage,
  type Context,
  context,
  createTraceState,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { StoredTraceContext } from '../store/types.js';
import { openFrame } from './ambient-store.js';

/** Span attribute names. */
export const SPAN_ATTRIBUTES = {
  runId: 'baton.run_id',
  task: 'baton.task',
  attempt: 'baton.attempt',
  workflowRunId: 'baton.workflow_run_id',
  workflow: 'baton.workflow',
  runCount: 'baton.run_count',
  outcome: 'baton.outcome',
  state: 'baton.state',
  step: 'baton.step',
  event: 'baton.event',
} as const;

const tracer = trace.getTracer('baton');

export { SpanKind };

/** Starts a span under `parent`; `ctx` is `parent` with the span set, for children. */
export function startSpan(name: string, kind: SpanKind, attributes: Attributes, parent: Context): { span: Span; ctx: Context } {
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** Marks a span failed with this error. */
export function recordError(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
}

/**
 * Runs `fn` in a span under `parentContext()`; the span is active inside `fn` (for
 * spans the user starts there) and ends with `fn`, failed when `fn` throws.
 */
export async function inSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: (span: Span, ctx: Context) => Promise<T>,
): Promise<T> {
  const { span, ctx } = startSpan(name, kind, attributes, parentContext());
  try {
    return await context.with(ctx, fn, undefined, span, ctx);
  } catch (error) {
    recordError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * What new spans and enqueued runs hang under: the active OpenTelemetry context when
 * it has a span (the user's, or the attempt's when a context manager is registered),
 * else the current attempt's (so children link up even without a context manager).
 */
export function parentContext(): Context {
  const active = context.active();
  const spanContext = trace.getSpanContext(active);
  if (spanContext && isSpanContextValid(spanContext)) return active;
  const frameContext = openFrame()?.otel;
  if (!frameContext) return active;
  const activeBaggage = propagation.getBaggage(active);
  if (!activeBaggage) return frameContext;
  return propagation.setBaggage(frameContext, mergeBaggage(propagation.getBaggage(frameContext), activeBaggage));
}

/**
 * Runs `insert` in an enqueue span (kind PRODUCER) and stores the span's trace
 * context with every row that has none yet: the parent of the rows' attempts.
 */
export async function traceEnqueue<T>(
  name: string,
  attributes: Attributes,
  rows: readonly { traceContext?: StoredTraceContext | null }[],
  insert: () => Promise<T>,
): Promise<T> {
  return inSpan(name, SpanKind.PRODUCER, attributes, async (_span, ctx) => {
    const carrier = toCarrier(ctx);
    if (carrier) for (const row of rows) row.traceContext ??= carrier;
    return insert();
  });
}

/** The W3C headers of a context (null when it has neither a valid span nor baggage). */
export function toCarrier(ctx: Context): StoredTraceContext | null {
  const spanContext = trace.getSpanContext(ctx);
  const baggage = propagation.getBaggage(ctx);
  if (!baggage && !(spanContext && isSpanContextValid(spanContext))) return null;
  const carrier: StoredTraceContext = {};
  if (spanContext && isSpanContextValid(spanContext)) {
    carrier.traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-${hex2(spanContext.traceFlags)}`;
    const state = spanContext.traceState?.serialize();
    if (state) carrier.tracestate = state;
  }
  const text = baggage ? formatBaggage(baggage) : '';
  if (text) carrier.baggage = text;
  return carrier.traceparent || carrier.baggage ? carrier : null;
}

/** A context holding a stored trace context (as a remote parent) and its baggage; ROOT without one. */
export function fromCarrier(carrier: StoredTraceContext | null | undefined): Context {
  if (!carrier) return ROOT_CONTEXT;
  let ctx = ROOT_CONTEXT;
  const spanContext = carrier.traceparent ? parseTraceparent(carrier.traceparent, carrier.tracestate) : undefined;
  if (spanContext) ctx = trace.setSpanContext(ctx, spanContext);
  const baggage = carrier.baggage ? parseBaggage(carrier.baggage) : undefined;
  if (baggage) ctx = propagation.setBaggage(ctx, baggage);
  return ctx;
}

/** Runs `fn` with `ctx` as the active OpenTelemetry context. */
export function withOtelContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

/** Adds baggage entries to a context (existing entries of the same name are replaced). */
export function withBaggageEntries(ctx: Context, entries: readonly (readonly [string, string])[]): Context {
  if (entries.length === 0) return ctx;
  let baggage = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  for (const [key, value] of entries) baggage = baggage.setEntry(key, { value });
  return propagation.setBaggage(ctx, baggage);
}

/** Runs `fn` with a baggage entry added to the active OpenTelemetry context. */
export function withBaggageEntry<T>(key: string, value: string, fn: () => T): T {
  return context.with(withBaggageEntries(context.active(), [[key, value]]), fn);
}

/** `trace_id` and `span_id` of a context's valid span, for log lines. */
export function traceLogFields(ctx: Context = context.active()): { trace_id: string; span_id: string } | undefined {
  const spanContext = trace.getSpanContext(ctx);
  if (!spanContext || !isSpanContextValid(spanContext)) return undefined;
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

function parseTraceparent(header: string, tracestate: string | undefined): SpanContext | undefined {
  const match = TRACEPARENT.exec(header.trim());
  if (!match || match[1] === 'ff' || (match[1] === '00' && match[5] !== undefined)) return undefined;
  const spanContext: SpanContext = {
    traceId: match[2] as string,
    spanId: match[3] as string,
    traceFlags: Number.parseInt(match[4] as string, 16),
    isRemote: true,
  };
  if (!isSpanContextValid(spanContext)) return undefined;
  if (tracestate) spanContext.traceState = createTraceState(tracestate);
  return spanContext;
}

// W3C baggage limits: at most 180 entries and 8192 bytes in the header.
const MAX_BAGGAGE_ENTRIES = 180;
const MAX_BAGGAGE_LENGTH = 8192;

function formatBaggage(baggage: Baggage): string {
  const parts: string[] = [];
  let length = 0;
  for (const [key, entry] of baggage.getAllEntries()) {
    const part = `${encodeURIComponent(key)}=${encodeURIComponent(entry.value)}`;
    if (parts.length >= MAX_BAGGAGE_ENTRIES || length + part.length + 1 > MAX_BAGGAGE_LENGTH) break;
    parts.push(part);
    length += part.length + 1;
  }
  return parts.join(',');
}

function parseBaggage(header: string): Baggage | undefined {
  const entries: Record<string, { value: string }> = {};
  let count = 0;
  for (const member of header.split(',')) {
    const pair = member.split(';')[0] ?? '';
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    try {
      const key = decodeURIComponent(pair.slice(0, at).trim());
      const value = decodeURIComponent(pair.slice(at + 1).trim());
      if (key && count++ < MAX_BAGGAGE_ENTRIES) entries[key] = { value };
    } catch {
      // A malformed member is dropped, as propagators do.
    }
  }
  return count > 0 ? propagation.createBaggage(entries) : undefined;
}

function mergeBaggage(base: Baggage | undefined, over: Baggage): Baggage {
  if (!base) return over;
  let merged = base;
  for (const [key, entry] of over.getAllEntries()) merged = merged.setEntry(key, entry);
  return merged;
}

function hex2(value: number): string {
  return (value & 0xff).toString(16).padStart(2, '0');
}
