import { propagation, ROOT_CONTEXT, type SpanContext, TraceFlags, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { fromCarrier, toCarrier, traceLogFields, withBaggageEntries } from '../../../src/context/tracing.js';

const spanContext: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
};

describe('stored trace context (W3C)', () => {
  it('formats a span context as traceparent and tracestate, and reads it back as a remote parent', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, spanContext);
    const carrier = toCarrier(ctx);
    expect(carrier).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    const restored = trace.getSpanContext(fromCarrier({ ...carrier, tracestate: 'vendor=abc,other=1' }));
    expect(restored).toMatchObject({ ...spanContext, isRemote: true });
    expect(restored?.traceState?.get('vendor')).toBe('abc');
  });

  it('carries baggage, percent-encoded, with or without a span', () => {
    const ctx = withBaggageEntries(ROOT_CONTEXT, [
      ['tenant', 'acme corp'],
      ['when', '2030-01-01T00:00:00.000Z'],
    ]);
    const carrier = toCarrier(ctx);
    expect(carrier).toEqual({ baggage: 'tenant=acme%20corp,when=2030-01-01T00%3A00%3A00.000Z' });
    const baggage = propagation.getBaggage(fromCarrier(carrier));
    expect(baggage?.getEntry('tenant')?.value).toBe('acme corp');
    expect(baggage?.getEntry('when')?.value).toBe('2030-01-01T00:00:00.000Z');
    expect(trace.getSpanContext(fromCarrier(carrier))).toBeUndefined();
  });

  it('is null for a context with neither a valid span nor baggage; malformed headers restore nothing', () => {
    expect(toCarrier(ROOT_CONTEXT)).toBeNull();
    expect(fromCarrier(null)).toBe(ROOT_CONTEXT);
    for (const traceparent of [
      'garbage',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
    ]) {
      expect(trace.getSpanContext(fromCarrier({ traceparent })), traceparent).toBeUndefined();
    }
    expect(propagation.getBaggage(fromCarrier({ baggage: '=x,%E0%A4%A=1' }))).toBeUndefined();
  });

  it('gives trace_id and span_id for log lines only when a valid span is there', () => {
    expect(traceLogFields(ROOT_CONTEXT)).toBeUndefined();
    expect(traceLogFields(trace.setSpanContext(ROOT_CONTEXT, spanContext))).toEqual({
      trace_id: spanContext.traceId,
      span_id: spanContext.spanId,
    });
  });
});
