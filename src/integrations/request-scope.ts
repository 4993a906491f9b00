/**
 * What the web-framework adapters (`baton/express`, `baton/fastify`, `baton/hono`)
 * share: running a request handler inside a scope that carries the request's tags
 * (`withTags`), the calling run's context (`baton-context`, as `continueContext`)
 * and its W3C trace context (`traceparent`), so a `task.enqueue()` in the handler
 * gets all three. Framework-free: the adapters pass a header reader and say when
 * the request is over. Must not import a framework.
 */
import { isSpanContextValid, context as otelContext, trace } from '@opentelemetry/api';
import { withTags } from '../context/ambient.js';
import { CONTEXT_HEADER, continueRequestContext } from '../context/http-header.js';
import { fromCarrier } from '../context/tracing.js';
import { BatonError, InvalidStateError, ValidationError } from '../errors.js';

/** The header a caller sets to tag the runs a request enqueues: `baton-tags: team=growth,source=crm`. */
export const TAGS_HEADER = 'baton-tags';

/** Options of `batonMiddleware` / `batonPlugin`; `Req` is the framework's request object. */
export interface RequestScopeOptions<Req> {
  /**
   * Tags from the request, applied to every run enqueued while handling it (explicit enqueue
   * tags still win per key). They win over the `baton-tags` header's per key.
   * @example tags: (req) => ({ route: req.path, tenant: String(req.headers['x-tenant'] ?? 'none') })
   */
  tags?: (request: Req) => Record<string, string> | undefined | Promise<Record<string, string> | undefined>;
  /**
   * The header that carries tags as `k=v,k2=v2` (names and values URL-encoded when they hold
   * `,` `=` or spaces), or `false` to ignore it. It is set by the client, so do not rely on
   * its tags for access control. Default `'baton-tags'`.
   */
  tagsHeader?: string | false;
  /**
   * The `baton-context` header sent by `contextHeaders()` inside a task: `'continue'` (default)
   * runs the handler in that run's context (its enqueues become children of the run, `ctx.log`
   * writes to it); `'required'` also refuses a request without one (400); `'ignore'` skips it.
   * A tampered or foreign header answers 400, one whose attempt has ended 409.
   */
  context?: 'continue' | 'required' | 'ignore';
  /**
   * Continue the W3C trace context of the request (`traceparent`, `tracestate`, `baggage`
   * headers), so enqueue spans hang under the caller's span. Skipped when an OpenTelemetry
   * HTTP instrumentation already made a span active. Default true.
   */
  trace?: boolean;
}

const TAGS_OPTION_KEYS = new Set(['tags', 'tagsHeader', 'context', 'trace']);

/** Checks adapter options once, when the middleware is made, naming a bad key. */
export function checkRequestScopeOptions(options: unknown, where: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw new ValidationError(`${where}: options must be an object`);
  const bad = (path: string, message: string) => new ValidationError(`${where}: ${path} ${message}`, [{ path, message }]);
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!TAGS_OPTION_KEYS.has(key)) throw bad(key, 'is not an option');
  if (o.tags !== undefined && typeof o.tags !== 'function') throw bad('tags', 'must be a function of the request');
  if (o.tagsHeader !== undefined && o.tagsHeader !== false && (typeof o.tagsHeader !== 'string' || o.tagsHeader === '')) {
    throw bad('tagsHeader', 'must be a header name or false');
  }
  if (o.context !== undefined && !['continue', 'required', 'ignore'].includes(o.context as string)) {
    throw bad('context', "must be 'continue', 'required' or 'ignore'");
  }
  if (o.trace !== undefined && typeof o.trace !== 'boolean') throw bad('trace', 'must be a boolean');
}

/** Reads one request header (any case); `undefined` when absent. */
export type HeaderReader = (name: string) => string | undefined;

/**
 * Parses a `baton-tags` header: comma-separated `name=value` members, each part URL-decoded.
 * A member without a name or `=` is refused with a `ValidationError` (answer 400).
 */
export function parseTagsHeader(value: string, header = TAGS_HEADER): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const raw of value.split(',')) {
    const member = raw.trim();
    if (member === '') continue;
    const at = member.indexOf('=');
    let name: string | undefined;
    let tag: string | undefined;
    if (at > 0) {
      try {
        name = decodeURIComponent(member.slice(0, at).trim());
        tag = decodeURIComponent(member.slice(at + 1).trim());
      } catch {
        name = undefined;
      }
    }
    if (!name || tag === undefined) {
      throw new ValidationError(`the ${header} header is malformed at "${member}": use name=value pairs separated by commas`, [
        { path: header, message: 'malformed' },
      ]);
    }
    tags[name] = tag;
  }
  return tags;
}

// Errors of the request's own headers (answered 400/409), as opposed to the handler's.
const refused = new WeakSet<object>();

/**
 * Runs `handle` in the request's scope. `handle` must resolve when the request is over
 * (the response finished or the connection closed): a continued run context is closed
 * when it settles. Rejects before `handle` runs when a header is refused (see `refusedRequest`).
 */
export async function runInRequestScope<Req, T>(
  request: Req,
  header: HeaderReader,
  options: RequestScopeOptions<Req>,
  handle: () => Promise<T>,
): Promise<T> {
  const tagsHeaderName = options.tagsHeader === undefined ? TAGS_HEADER : options.tagsHeader;
  const headerValue = tagsHeaderName === false ? undefined : header(tagsHeaderName);
  let headerTags: Record<string, string> = {};
  try {
    if (headerValue) headerTags = parseTagsHeader(headerValue, tagsHeaderName as string);
  } catch (error) {
    throw markRefused(error);
  }
  const tags = { ...headerTags, ...((await options.tags?.(request)) ?? {}) };
  let isStarted = false;
  const start = () => {
    isStarted = true;
    return handle();
  };
  let run = Object.keys(tags).length > 0 ? () => withTags(tags, start) : start;

  const contextMode = options.context ?? 'continue';
  if (contextMode !== 'ignore') {
    const inner = run;
    run = () =>
      continueRequestContext({ headers: { get: (name: string) => header(name) ?? null } }, inner, {
        required: contextMode === 'required',
      }).catch((error: unknown) => {
        throw isStarted ? error : markRefused(error);
      });
  }

  if (options.trace !== false) {
    const parent = traceParentOf(header);
    if (parent) return otelContext.with(parent, run);
  }
  return run();
}

function markRefused(error: unknown): unknown {
  if (typeof error === 'object' && error !== null) refused.add(error);
  return error;
}

/** The OpenTelemetry context of the request's W3C headers, unless a span is already active. */
function traceParentOf(header: HeaderReader) {
  const active = trace.getSpanContext(otelContext.active());
  if (active && isSpanContextValid(active)) return undefined;
  const traceparent = header('traceparent');
  const baggage = header('baggage');
  if (!traceparent && !baggage) return undefined;
  const tracestate = header('tracestate');
  return fromCarrier({
    ...(traceparent ? { traceparent } : {}),
    ...(tracestate ? { tracestate } : {}),
    ...(baggage ? { baggage } : {}),
  });
}

/**
 * The answer for a request whose Baton headers were refused, in the body shape of Baton's HTTP
 * API (`{ error: { code, message } }`); undefined for any other error (the handler's own).
 */
export function refusedRequest(
  error: unknown,
): { status: 400 | 409; body: { error: { code: string; message: string } } } | undefined {
  if (!(error instanceof BatonError) || !refused.has(error)) return undefined;
  if (error instanceof ValidationError) return { status: 400, body: { error: { code: error.code, message: error.message } } };
  if (error instanceof InvalidStateError) return { status: 409, body: { error: { code: error.code, message: error.message } } };
  return undefined;
}

/** Header names the scope reads, for documentation and CORS lists. */
export const REQUEST_SCOPE_HEADERS = [TAGS_HEADER, CONTEXT_HEADER, 'traceparent', 'tracestate', 'baggage'] as const;
