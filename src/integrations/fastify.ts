/**
 * `baton/fastify`: Fastify (4 and 5) plugins. `batonPlugin` runs each request in a scope
 * carrying its tags, the calling run's context and its trace context, so `task.enqueue()`
 * in a route gets them; `batonHttp` mounts the HTTP API and dashboard under a prefix.
 * Imports Fastify's types only, never Fastify itself.
 */
import { AsyncResource } from 'node:async_hooks';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { Baton } from '../api/baton.js';
import type { HttpOptions } from '../http/app.js';
import { checkRequestScopeOptions, type RequestScopeOptions, refusedRequest, runInRequestScope } from './request-scope.js';

export { parseTagsHeader, type RequestScopeOptions, TAGS_HEADER } from './request-scope.js';

// Options Fastify itself reads from `register(plugin, options)`.
const REGISTER_KEYS = new Set(['prefix', 'logLevel', 'logSerializers']);

/** Marks a plugin to apply to the instance it is registered on (what `fastify-plugin` does). */
function shared<T extends object>(plugin: T, name: string): T {
  Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: name });
  return plugin;
}

/**
 * Hooks that run every request of the instance inside Baton's request scope: every run enqueued
 * while handling it gets the request's tags (`tags(request)` over the `baton-tags` header), is a
 * child of the calling run when a `baton-context` header came with it, and its enqueue span hangs
 * under the request's `traceparent`. A refused header answers 400 (malformed, tampered) or 409
 * (the calling attempt has ended) with `{ error: { code, message } }`.
 *
 * @example
 * await app.register(batonPlugin, { tags: (request) => ({ route: request.routeOptions.url ?? '' }) });
 * app.post('/orders', async (request) => ({ id: (await placeOrder.enqueue(request.body as Order)).id }));
 */
export const batonPlugin: FastifyPluginCallback<RequestScopeOptions<FastifyRequest>> = shared((fastify, options, done) => {
  const scopeOptions = Object.fromEntries(Object.entries(options).filter(([key]) => !REGISTER_KEYS.has(key)));
  checkRequestScopeOptions(scopeOptions, 'batonPlugin');
  const resources = new WeakMap<FastifyRequest, AsyncResource>();

  fastify.addHook('onRequest', (request, reply, next) => {
    const isOver = replyOver(reply.raw);
    runInRequestScope(
      request,
      (name) => headerOf(request.headers, name),
      scopeOptions,
      () => {
        // Body parsing may resume from the socket's events, outside this scope (nodejs/node#34430): preValidation re-enters it.
        const resource = new AsyncResource('baton.request');
        resources.set(request, resource);
        resource.runInAsyncScope(() => next());
        return isOver;
      },
    ).catch((error: unknown) => {
      const answer = refusedRequest(error);
      if (answer && !reply.sent) void reply.code(answer.status).send(answer.body);
      else next(error instanceof Error ? error : new Error(String(error)));
    });
  });

  fastify.addHook('preValidation', (request, _reply, next) => {
    const resource = resources.get(request);
    if (resource) resource.runInAsyncScope(() => next());
    else next();
  });
  done();
}, 'baton');

/** Options of the `batonHttp` plugin: the instance, and `baton.http()`'s options. */
export interface BatonHttpPluginOptions extends Omit<HttpOptions, 'basePath'> {
  baton: Baton;
}

/**
 * The HTTP API and dashboard as a Fastify plugin, mounted at the `prefix` it is registered with.
 * Every API route needs a token unless `auth: 'none'`. Request bodies reach the API unparsed
 * (the plugin's own content-type parser, scoped to its prefix).
 *
 * @example
 * await app.register(batonHttp, { baton, prefix: '/baton' }); // dashboard at /baton/, API at /baton/api/v1
 */
export const batonHttp: FastifyPluginCallback<BatonHttpPluginOptions> = (instance, options, done) => {
  const {
    baton,
    prefix: _prefix,
    logLevel: _logLevel,
    logSerializers: _logSerializers,
    ...http
  } = options as BatonHttpPluginOptions & Record<string, unknown>;
  const basePath = instance.prefix;
  const app = baton.http({ ...http, basePath });
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, parsed) => parsed(null, body));

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.raw.url ?? '/';
    const path = url.split('?')[0];
    // The dashboard's asset links are relative: it must be served from a path ending in '/'.
    if ((request.method === 'GET' || request.method === 'HEAD') && basePath !== '' && path === basePath) {
      return reply.redirect(`${basePath}/${url.slice(path.length)}`, 308);
    }
    const aborted = new AbortController();
    reply.raw.once('close', () => aborted.abort());
    const init: RequestInit = { method: request.method, headers: toHeaders(request.headers), signal: aborted.signal };
    if (request.body instanceof Buffer && request.method !== 'GET' && request.method !== 'HEAD') init.body = request.body;
    const response = await app.fetch(new Request(new URL(url, `http://${request.headers.host ?? 'localhost'}`), init));
    return reply.send(response);
  };
  instance.all('/', handler);
  instance.all('/*', handler);
  done();
};

function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

function toHeaders(headers: IncomingHttpHeaders): Headers {
  const result = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    for (const one of Array.isArray(value) ? value : [value]) result.append(name, one);
  }
  return result;
}

/** Resolves when the response is finished or the connection closed. */
function replyOver(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.writableFinished || res.destroyed) return resolve();
    res.once('finish', () => resolve());
    res.once('close', () => resolve());
  });
}
