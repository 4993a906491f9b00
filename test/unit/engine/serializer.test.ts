import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deserialize, serialize, serializeWithLimit } from '../../../src/engine/serializer.js';
import { PayloadTooLargeError, SerializationError } from '../../../src/errors.js';

const roundTrip = (value: unknown) => deserialize(serialize(value));

describe('serializer', () => {
  it('round-trips the values JSON cannot carry', () => {
    const value = {
      date: new Date('2026-01-02T03:04:05.678Z'),
      big: 12345678901234567890n,
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, new Set([1, 'x'])],
      ]),
      set: new Set([new Date(0)]),
      bytes: new Uint8Array([0, 1, 254, 255]),
      nested: { missing: undefined, nothing: null, list: [undefined, null, 1] },
      numbers: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0],
    };
    const back = roundTrip(value) as typeof value;
    expect(back).toEqual(value);
    expect(back.date).toBeInstanceOf(Date);
    expect(back.map).toBeInstanceOf(Map);
    expect(back.bytes).toBeInstanceOf(Uint8Array);
    expect('missing' in back.nested).toBe(true);
    expect(back.nested.missing).toBeUndefined();
    expect(back.nested.nothing).toBeNull();
    expect(Object.is(back.numbers[3], -0)).toBe(true);
  });

  it('keeps top-level undefined and null apart', () => {
    expect(serialize(undefined)).toBeUndefined();
    expect(roundTrip(undefined)).toBeUndefined();
    expect(roundTrip(null)).toBeNull();
  });

  it('escapes user objects that use the tag key', () => {
    const value = { $baton: 'Date', v: 'not a date' };
    expect(roundTrip(value)).toEqual(value);
  });

  it('keeps __proto__ as data, never as a prototype', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "$baton": "x"}') as object;
    const back = roundTrip(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps an own __proto__ key when serializing (found by the JSON property test)', () => {
    const value = JSON.parse('{"__proto__": {"a": 1}, "b": 2}') as Record<string, unknown>;
    const back = roundTrip(value) as Record<string, unknown>;
    expect(Object.keys(back)).toEqual(['__proto__', 'b']);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ a: 1 });
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
  });

  it('refuses functions, symbols, cycles and lone surrogates, naming the path', () => {
    expect(() => serialize({ a: { fn: () => 1 } }, 'output')).toThrow(/output\.a\.fn is a function/);
    expect(() => serialize({ s: Symbol('x') }, 'output')).toThrow(SerializationError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => serialize(cycle, 'output')).toThrow(/cycle/);
    expect(() => serialize({ text: 'a\ud800b' }, 'input')).toThrow(/lone UTF-16 surrogate/);
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(roundTrip({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });

  it('enforces the byte limit with a clear error', () => {
    expect(() => serializeWithLimit('é'.repeat(600), 'input of task "t"', 1000)).toThrow(PayloadTooLargeError);
    expect(() => serializeWithLimit('é'.repeat(600), 'input of task "t"', 1000)).toThrow(
      /input of task "t" is 1202 bytes, over the limit of 1000/,
    );
    expect(serializeWithLimit('x'.repeat(10), 'input', 1000)).toBe(JSON.stringify('x'.repeat(10)));
    expect(serializeWithLimit('x'.repeat(5000), 'input', 0)).toBeDefined();
  });

  it('round-trips arbitrary JSON-like values (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(roundTrip(value)).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips arbitrary values with dates, bigints, maps and bytes (property)', () => {
    const leaf = fc.oneof(
      fc.date({ noInvalidDate: true }),
      fc.bigInt(),
      fc.uint8Array({ maxLength: 8 }),
      fc.string().filter((s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()),
      fc.double(),
      fc.constant(undefined),
    );
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('node'), { maxKeys: 4 }),
        fc.array(tie('node'), { maxLength: 3 }).map((items) => new Set(items)),
      ),
    })).node;
    fc.assert(
      fc.property(tree, (value) => {
        expect(roundTrip(value)).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });
});
