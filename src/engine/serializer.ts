/**
 * The one serializer for payloads (inputs, outputs, checkpoints, stream chunks).
 * JSON text, with tagged objects for what JSON cannot carry: Date, BigInt, Map,
 * Set, Uint8Array, undefined (inside objects and arrays), NaN, ±Infinity and -0.
 * A user object that itself has a `$baton` key is escaped, so decoding is exact.
 * Functions, symbols, cycles, strings with lone surrogates and values nested deeper
 * than MAX_DEPTH are refused with a SerializationError that gives the path of the bad value.
 */
import { PayloadTooLargeError, SerializationError } from '../errors.js';

const TAG = '$baton';

/** How deep objects and arrays may nest: deeper values are refused instead of overflowing the stack. */
export const MAX_DEPTH = 512;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The encoded form: `undefined` for a top-level `undefined` (stored as NULL). */
export type Encoded = string | undefined;

export function serialize(value: unknown, what = 'value'): Encoded {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    checkString(value, what);
    return JSON.stringify(value);
  }
  if (typeof value === 'boolean' || value === null) return JSON.stringify(value);
  return JSON.stringify(toJson(value, what, new Set(), 0));
}

/** Serializes and enforces a byte limit (`limit` ≤ 0 disables it). */
export function serializeWithLimit(value: unknown, what: string, limit: number): Encoded {
  const text = serialize(value, what);
  if (text !== undefined && limit > 0) {
    // Byte length is at most 3× the UTF-16 length, so most payloads skip the exact count.
    if (text.length * 3 > limit) {
      const size = Buffer.byteLength(text, 'utf8');
      if (size > limit) throw new PayloadTooLargeError(what, size, limit);
    }
  }
  return text;
}

export function deserialize(text: Encoded | null): unknown {
  if (text === undefined || text === null) return undefined;
  const parsed = JSON.parse(text) as Json;
  if (!text.includes(`"${TAG}"`)) return parsed;
  return fromJson(parsed);
}

// String.prototype.isWellFormed is in Node 20 but not in the ES2023 lib typings.
const isWellFormed = (value: string): boolean => (value as unknown as { isWellFormed(): boolean }).isWellFormed();

function checkString(value: string, path: string): void {
  if (!isWellFormed(value)) {
    throw new SerializationError(`${path} is a string with a lone UTF-16 surrogate, which cannot be stored`);
  }
}

function toJson(value: unknown, path: string, seen: Set<object>, depth: number): Json {
  switch (typeof value) {
    case 'string':
      checkString(value, path);
      return value;
    case 'boolean':
      return value;
    case 'number':
      if (Number.isNaN(value)) return { [TAG]: 'NaN' };
      if (value === Number.POSITIVE_INFINITY) return { [TAG]: 'Infinity' };
      if (value === Number.NEGATIVE_INFINITY) return { [TAG]: '-Infinity' };
      if (Object.is(value, -0)) return { [TAG]: '-0' };
      return value;
    case 'bigint':
      return { [TAG]: 'BigInt', v: value.toString() };
    case 'undefined':
      return { [TAG]: 'undefined' };
    case 'function':
      throw new SerializationError(`${path} is a function, which cannot be stored`);
    case 'symbol':
      throw new SerializationError(`${path} is a symbol, which cannot be stored`);
    default:
      break;
  }
  if (value === null) return null;
  const object = value as object;
  if (seen.has(object)) throw new SerializationError(`${path} refers back to itself (a cycle), which cannot be stored`);
  if (depth >= MAX_DEPTH) {
    const where = path.length > 200 ? `${path.slice(0, 200)}…` : path;
    throw new SerializationError(`${where} is nested deeper than ${MAX_DEPTH} levels, which cannot be stored`);
  }
  seen.add(object);
  try {
    return objectToJson(object, path, seen, depth + 1);
  } finally {
    seen.delete(object);
  }
}

function objectToJson(object: object, path: string, seen: Set<object>, depth: number): Json {
  if (Array.isArray(object)) {
    const out: Json[] = new Array(object.length);
    for (let i = 0; i < object.length; i++) out[i] = toJson(object[i], `${path}[${i}]`, seen, depth);
    return out;
  }
  if (object instanceof Date) {
    const time = object.getTime();
    return { [TAG]: 'Date', v: Number.isNaN(time) ? null : object.toISOString() };
  }
  if (object instanceof Uint8Array) return { [TAG]: 'Uint8Array', v: Buffer.from(object).toString('base64') };
  if (object instanceof Map) {
    const entries: Json[] = [];
    let i = 0;
    for (const [k, v] of object) {
      entries.push([toJson(k, `${path}<key ${i}>`, seen, depth), toJson(v, `${path}<value ${i}>`, seen, depth)]);
      i++;
    }
    return { [TAG]: 'Map', v: entries };
  }
  if (object instanceof Set) {
    const items: Json[] = [];
    let i = 0;
    for (const v of object) items.push(toJson(v, `${path}<item ${i++}>`, seen, depth));
    return { [TAG]: 'Set', v: items };
  }
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return toJson(toJSON.call(object), path, seen, depth);
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer || object instanceof Promise || object instanceof WeakMap) {
    throw new SerializationError(`${path} is a ${object.constructor.name}, which cannot be stored`);
  }
  const out: { [key: string]: Json } = {};
  for (const key of Object.keys(object)) {
    checkString(key, `${path} key`);
    setOwn(out, key, toJson((object as Record<string, unknown>)[key], `${path}.${key}`, seen, depth));
  }
  // A user object that has our tag key is wrapped so decoding cannot mistake it for ours.
  return TAG in out ? { [TAG]: 'escaped', v: out } : out;
}

function fromJson(value: Json): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(fromJson);
  const tag = value[TAG];
  if (typeof tag === 'string') return fromTagged(tag, value.v ?? null);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    setOwn(out, key, fromJson(value[key] as Json));
  }
  return out;
}

// `__proto__` arrives as an own key from JSON.parse; keep it an own key, never a prototype.
function setOwn(target: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value: v, enumerable: true, writable: true, configurable: true });
  else target[key] = v;
}

function fromTagged(tag: string, v: Json): unknown {
  switch (tag) {
    case 'undefined':
      return undefined;
    case 'NaN':
      return Number.NaN;
    case 'Infinity':
      return Number.POSITIVE_INFINITY;
    case '-Infinity':
      return Number.NEGATIVE_INFINITY;
    case '-0':
      return -0;
    case 'BigInt':
      return BigInt(v as string);
    case 'Date':
      return new Date(v === null ? Number.NaN : (v as string));
    case 'Uint8Array':
      return new Uint8Array(Buffer.from(v as string, 'base64'));
    case 'Map':
      return new Map((v as Json[][]).map(([k, val]) => [fromJson(k as Json), fromJson(val as Json)]));
    case 'Set':
      return new Set((v as Json[]).map(fromJson));
    case 'escaped': {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(v as Record<string, Json>)) setOwn(out, key, fromJson(inner));
      return out;
    }
    default:
      throw new SerializationError(`stored value has an unknown type tag "${tag}"`);
  }
}
