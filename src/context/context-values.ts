/**
 * Typed context values (`defineContextKey`) on their way through a run: which values
 * an enqueue stores (the `key.with` scopes in force, and the current run's values
 * that inherit), their stored form (the project serializer, so Dates, Maps and
 * BigInts round-trip; a redacted value is sealed with AES-256-GCM under a key derived
 * from the instance secret, so the database holds no readable copy), their restored
 * form in the worker, and what readers see (redacted values as "[redacted]"), also
 * in log lines. It does no I/O: callers bring the secret.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { deserialize, serializeWithLimit } from '../engine/serializer.js';
import type { SerializedError } from '../errors.js';
import { type AmbientScope, type ContextValueEntry, currentScope } from './ambient-store.js';

/** What readers see instead of a redacted value. */
export const REDACTED = '[redacted]';

export type ContextValues = ReadonlyMap<string, ContextValueEntry>;

/** One value as stored: in clear, or sealed when redacted. Defaults (inherit, no redact) are left out. */
interface StoredEntry {
  value?: unknown;
  sealed?: string;
  redact?: true;
  inherit?: false;
}

/**
 * The values a run enqueued here stores: those of `key.with` scopes, and, inside an
 * open attempt (and unless the enqueue is detached), the current run's values whose
 * key inherits. Undefined when there are none.
 */
export function valuesToStore(scope: AmbientScope, detached: boolean): Map<string, ContextValueEntry> | undefined {
  const values = scope.values;
  if (!values || values.size === 0) return undefined;
  const inOpenAttempt = scope.frame !== undefined && !scope.frame.closed;
  let out: Map<string, ContextValueEntry> | undefined;
  for (const [name, entry] of values) {
    if (entry.fromRun && (detached || !inOpenAttempt || !entry.inherit)) continue;
    out ??= new Map();
    out.set(name, entry);
  }
  return out;
}

export function hasRedacted(values: ContextValues): boolean {
  for (const entry of values.values()) if (entry.redact) return true;
  return false;
}

/** The stored text of values (null when empty); `secret` is needed when one is redacted. */
export function encodeContextValues(values: ContextValues | undefined, secret: Buffer | undefined, limit: number): string | null {
  if (!values || values.size === 0) return null;
  const stored: Record<string, StoredEntry> = {};
  for (const [name, entry] of values) {
    const what = `value of context key "${name}"`;
    const item: StoredEntry = {};
    if (entry.redact) {
      if (!secret) throw new Error(`${what} is redacted and needs the instance secret to be stored`);
      item.sealed = seal(secret, serializeWithLimit(entry.value, what, limit) ?? '');
      item.redact = true;
    } else {
      item.value = entry.value;
    }
    if (!entry.inherit) item.inherit = false;
    stored[name] = item;
  }
  return serializeWithLimit(stored, 'context values', limit) ?? null;
}

/**
 * The values a worker restores from the stored text (all marked `fromRun`). A sealed
 * value that does not open with `secret` (another database's) is left out and named
 * in `unreadable`.
 */
export function decodeContextValues(
  text: string | null,
  secret: Buffer,
): { values: Map<string, ContextValueEntry> | undefined; unreadable: string[] } {
  const unreadable: string[] = [];
  if (text === null) return { values: undefined, unreadable };
  const stored = deserialize(text) as Record<string, StoredEntry>;
  const values = new Map<string, ContextValueEntry>();
  for (const [name, item] of Object.entries(stored)) {
    const inherit = item.inherit !== false;
    if (item.redact) {
      const opened = item.sealed === undefined ? undefined : unseal(secret, item.sealed);
      if (opened === undefined) {
        unreadable.push(name);
        continue;
      }
      values.set(name, { value: deserialize(opened === '' ? null : opened), inherit, redact: true, fromRun: true });
    } else {
      values.set(name, { value: item.value, inherit, redact: false, fromRun: true });
    }
  }
  return { values, unreadable };
}

/** What readers see of stored values: redacted ones as "[redacted]". */
export function viewStoredValues(text: string | null): Record<string, unknown> {
  if (text === null) return {};
  const stored = deserialize(text) as Record<string, StoredEntry>;
  const view: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(stored)) view[name] = item.redact ? REDACTED : item.value;
  return view;
}

/** What readers see of values in force: redacted ones as "[redacted]". */
export function viewValues(values: ContextValues | undefined): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  if (values) for (const [name, entry] of values) view[name] = entry.redact ? REDACTED : entry.value;
  return view;
}

/** Non-redacted values as baggage entries (strings; other values as JSON). */
export function baggageEntries(values: ContextValues | undefined): [string, string][] {
  const entries: [string, string][] = [];
  if (values) for (const [name, entry] of values) if (!entry.redact) entries.push([name, baggageValue(entry.value)]);
  return entries;
}

export function baggageValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * A log line with the redacted values in force replaced by "[redacted]": inside the
 * message text, inside string fields, and where a field holds such a value.
 */
export function redactLogLine(
  message: string,
  fields: Record<string, unknown> | null,
): { message: string; fields: Record<string, unknown> | null } {
  const values = currentScope().values;
  if (!values || values.size === 0) return { message, fields };
  const secrets: unknown[] = [];
  for (const entry of values.values())
    if (entry.redact && entry.value !== undefined && entry.value !== null) secrets.push(entry.value);
  if (secrets.length === 0) return { message, fields };
  const scrubbed = fields === null ? null : (scrub(fields, secrets, 0) as Record<string, unknown>);
  return { message: scrubText(message, secrets), fields: scrubbed };
}

/**
 * A failure about to be stored (and shown by the API and dashboard) with the redacted
 * values of `values` replaced by "[redacted]": in its message, stack, data and causes.
 * A handler that puts a secret in an error message must not publish it that way.
 */
export function redactError(error: SerializedError, values: ContextValues | undefined): SerializedError {
  const secrets: unknown[] = [];
  if (values)
    for (const entry of values.values())
      if (entry.redact && typeof entry.value === 'string' && entry.value !== '') secrets.push(entry.value);
  return secrets.length === 0 ? error : scrubError(error, secrets);
}

function scrubError(error: SerializedError, secrets: readonly unknown[]): SerializedError {
  const out: SerializedError = { ...error, message: scrubText(error.message, secrets) };
  if (error.stack !== undefined) out.stack = scrubText(error.stack, secrets);
  if (error.data !== undefined) out.data = scrub(error.data, secrets, 0);
  if (error.cause !== undefined) out.cause = scrubError(error.cause, secrets);
  return out;
}

function scrubText(text: string, secrets: readonly unknown[]): string {
  let out = text;
  for (const secret of secrets) if (typeof secret === 'string' && secret.length > 0) out = out.split(secret).join(REDACTED);
  return out;
}

function scrub(value: unknown, secrets: readonly unknown[], depth: number): unknown {
  if (typeof value === 'string') return scrubText(value, secrets);
  for (const secret of secrets) {
    if (Object.is(value, secret)) return REDACTED;
    if (secret instanceof Date && value instanceof Date && secret.getTime() === value.getTime()) return REDACTED;
  }
  if (depth >= 8 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => scrub(item, secrets, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = scrub(item, secrets, depth + 1);
  return out;
}

function sealingKey(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('baton.context-values.v1').digest();
}

function seal(secret: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(secret), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

function unseal(secret: Buffer, sealed: string): string | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(secret), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
