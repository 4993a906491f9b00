-- Tracing and typed context (DESIGN.md §2.1, §2.3): the W3C trace context of a
-- run's enqueue (traceparent, tracestate, baggage), the parent of every
-- attempt's span; and the values of typed context keys, serialized by the
-- project serializer (redacted values sealed with the instance secret).
ALTER TABLE runs ADD COLUMN trace_context json;
ALTER TABLE runs ADD COLUMN context_values text;
