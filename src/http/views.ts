/**
 * JSON views of API values for HTTP: payload values that JSON cannot carry are
 * shown plainly (Date → ISO string, BigInt → string, Map → entries, Set →
 * array, bytes → base64), and the time fields of states and runs are ISO strings.
 */
import type { RunSummary } from '../api/run-state.js';
import type { LogEntry, State } from '../engine/types.js';

export function jsonView(value: unknown, depth = 0): unknown {
  if (depth > 64) return '[too deep]';
  if (value === undefined) return null;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Map) return [...value.entries()].map(([k, v]) => [jsonView(k, depth + 1), jsonView(v, depth + 1)]);
  if (value instanceof Set) return [...value].map((v) => jsonView(v, depth + 1));
  if (Array.isArray(value)) return value.map((v) => jsonView(v, depth + 1));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      // A `__proto__` key of the user's data stays an own key (assigning it would set the prototype and drop it).
      if (k === '__proto__')
        Object.defineProperty(out, k, { value: jsonView(v, depth + 1), enumerable: true, writable: true, configurable: true });
      else out[k] = jsonView(v, depth + 1);
    }
    return out;
  }
  return String(value);
}

export function stateView(state: State): Record<string, unknown> {
  return jsonView(state) as Record<string, unknown>;
}

export function summaryView(run: RunSummary): Record<string, unknown> {
  return jsonView(run) as Record<string, unknown>;
}

export function logView(entry: LogEntry): Record<string, unknown> {
  return jsonView(entry) as Record<string, unknown>;
}
