import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ambientStorage, type ContextValueEntry, EMPTY_SCOPE } from '../../../src/context/ambient-store.js';
import {
  decodeContextValues,
  encodeContextValues,
  REDACTED,
  redactLogLine,
  valuesToStore,
  viewStoredValues,
} from '../../../src/context/context-values.js';
import { SerializationError } from '../../../src/errors.js';

const entry = (value: unknown, more: Partial<ContextValueEntry> = {}): ContextValueEntry => ({
  value,
  inherit: true,
  redact: false,
  fromRun: false,
  ...more,
});

describe('context values', () => {
  const secret = randomBytes(32);

  it('round-trip through the serializer, redacted ones sealed', () => {
    const when = new Date('2030-05-06T07:08:09.010Z');
    const values = new Map([
      ['when', entry(when)],
      ['token', entry('sk-secret', { redact: true, inherit: false })],
    ]);
    const text = encodeContextValues(values, secret, 0) as string;
    expect(text).not.toContain('sk-secret');
    const { values: decoded, unreadable } = decodeContextValues(text, secret);
    expect(unreadable).toEqual([]);
    expect(decoded?.get('when')).toEqual({ value: when, inherit: true, redact: false, fromRun: true });
    expect(decoded?.get('token')).toEqual({ value: 'sk-secret', inherit: false, redact: true, fromRun: true });
    expect(viewStoredValues(text)).toEqual({ when, token: REDACTED });
    // Another database's secret cannot open it.
    expect(decodeContextValues(text, randomBytes(32)).unreadable).toEqual(['token']);
  });

  it('stores nothing when there are no values, and refuses what the serializer refuses', () => {
    expect(encodeContextValues(undefined, undefined, 0)).toBeNull();
    expect(encodeContextValues(new Map(), undefined, 0)).toBeNull();
    expect(() => encodeContextValues(new Map([['fn', entry(() => 1)]]), undefined, 0)).toThrow(SerializationError);
  });

  it('passes on explicit values, and a run value only inside its open attempt when it inherits', () => {
    const frame = { context: {} as never, closed: false };
    const values = new Map([
      ['explicit', entry(1)],
      ['inherited', entry(2, { fromRun: true })],
      ['local', entry(3, { fromRun: true, inherit: false })],
    ]);
    const scope = { ...EMPTY_SCOPE, frame, values };
    expect([...(valuesToStore(scope, false)?.keys() ?? [])]).toEqual(['explicit', 'inherited']);
    expect([...(valuesToStore(scope, true)?.keys() ?? [])]).toEqual(['explicit']);
    frame.closed = true;
    expect([...(valuesToStore(scope, false)?.keys() ?? [])]).toEqual(['explicit']);
  });

  it('redacts values in force from log messages and fields', () => {
    const values = new Map([
      ['token', entry('sk-123', { redact: true })],
      ['pin', entry(4242, { redact: true })],
      ['tenant', entry('acme')],
    ]);
    const line = ambientStorage.run({ ...EMPTY_SCOPE, values }, () =>
      redactLogLine('token sk-123 for acme', { a: 'Bearer sk-123', pin: 4242, list: ['sk-123', 1], keep: 'acme' }),
    );
    expect(line).toEqual({
      message: `token ${REDACTED} for acme`,
      fields: { a: `Bearer ${REDACTED}`, pin: REDACTED, list: [REDACTED, 1], keep: 'acme' },
    });
    expect(redactLogLine('sk-123', null)).toEqual({ message: 'sk-123', fields: null });
  });
});
