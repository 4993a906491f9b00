/**
 * The context over HTTP: `contextHeaders()` for an outgoing call made inside a
 * task, and `continueContext` / `continueRequestContext` for the service that
 * receives it (framework-agnostic: a header string, a Node `IncomingMessage`, or
 * a Fetch `Request` as in Hono or undici). Verification is `hydratedContext`'s.
 */
import { InvalidStateError, ValidationError } from '../errors.js';
import { openFrame } from './ambient-store.js';
import { hydratedContext, serializeContext } from './serialized-context.js';

/** The header that carries a serialized Baton context. */
export const CONTEXT_HEADER = 'baton-context';

/**
 * Adds headers next to `baton-context` and restores what they carry on the
 * receiving side: the hook for trace propagation (W3C `traceparent`).
 */
export interface HeaderPropagator {
  /** Headers to add to an outgoing call. */
  inject(): Record<string, string>;
  /** Runs `fn` with what the incoming headers carry restored. */
  extract?<T>(header: (name: string) => string | undefined, fn: () => Promise<T>): Promise<T>;
}

const PROPAGATORS_KEY = Symbol.for('baton.headerPropagators');
const holder = globalThis as unknown as Record<symbol, unknown>;
holder[PROPAGATORS_KEY] ??= new Set<HeaderPropagator>();
const propagators = holder[PROPAGATORS_KEY] as Set<HeaderPropagator>;

/** Registers a propagator (tracing integrations); returns its removal. */
export function registerHeaderPropagator(propagator: HeaderPropagator): () => void {
  propagators.add(propagator);
  return () => propagators.delete(propagator);
}

/**
 * Headers that carry the current run's context to another service:
 * `{ 'baton-context': serializeContext() }`, plus those of registered propagators
 * (a W3C `traceparent` once tracing is set up). Outside a task, and in a test
 * context (`createTestContext`), there is no `baton-context` header.
 *
 * @example
 * await fetch('http://billing/charge', { method: 'POST', headers: { ...contextHeaders(), 'content-type': 'application/json' }, body });
 */
export function contextHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const propagator of propagators) Object.assign(headers, propagator.inject());
  if (!openFrame()) return headers;
  try {
    headers[CONTEXT_HEADER] = serializeContext();
  } catch (error) {
    if (!(error instanceof InvalidStateError)) throw error;
  }
  return headers;
}

export interface ContinueContextOptions {
  /** Refuse a missing header with `ValidationError` (default: run `fn` with no context). */
  required?: boolean;
}

/**
 * Runs `fn` with the context of a `baton-context` header restored: `getTaskContext()`
 * answers, `ctx.log` writes to the calling run, enqueues become its children. A
 * tampered or foreign header rejects with `ValidationError` (answer 400), one whose
 * attempt has ended with `InvalidStateError` (answer 409), and `fn` does not run.
 * Without a header `fn` runs with no context, unless `required` is set.
 *
 * @example
 * const body = await continueContext(request.headers.get('baton-context'), () => charge(order));
 */
export async function continueContext<T>(
  header: string | null | undefined,
  fn: () => T | Promise<T>,
  options: ContinueContextOptions = {},
): Promise<T> {
  if (header === undefined || header === null || header === '') {
    if (options.required) {
      throw new ValidationError(`the ${CONTEXT_HEADER} header is missing`, [{ path: CONTEXT_HEADER, message: 'missing' }]);
    }
    return fn();
  }
  return hydratedContext(header, fn);
}

/** Fetch `Headers`, or Node's `req.headers` object (lower-case names). */
export type HeadersLike = { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | undefined>>;

function headerReader(headers: HeadersLike): (name: string) => string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (name) => (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  return (name) => {
    const value = (headers as Record<string, string | readonly string[] | undefined>)[name.toLowerCase()];
    // Two values of one header: join them, so a duplicated baton-context is refused as malformed.
    return Array.isArray(value) ? value.join(', ') : (value as string | undefined);
  };
}

/**
 * `continueContext` for a request object: a Fetch `Request` (Hono's `c.req.raw`,
 * undici), a Node `IncomingMessage`, or anything with such `headers`. Registered
 * propagators (tracing) restore their headers too.
 *
 * @example
 * // Node http
 * http.createServer((req, res) => continueRequestContext(req, () => handle(req, res)));
 * // Hono
 * app.use((c, next) => continueRequestContext(c.req.raw, next));
 */
export function continueRequestContext<T>(
  request: { readonly headers: HeadersLike },
  fn: () => T | Promise<T>,
  options: ContinueContextOptions = {},
): Promise<T> {
  const read = headerReader(request.headers);
  let run = async () => fn();
  for (const propagator of propagators) {
    const extract = propagator.extract?.bind(propagator);
    const inner = run;
    if (extract) run = () => extract(read, inner);
  }
  return continueContext(read(CONTEXT_HEADER), run, options);
}
