/**
 * `baton/express`: Express (4 and 5) adapters. `batonMiddleware()` runs each request
 * in a scope carrying its tags, the calling run's context and its trace context, so
 * `task.enqueue()` in a handler gets them; `batonHttp(baton)` mounts the HTTP API and
 * dashboard. Imports Express's types only, never Express itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Baton } from '../api/baton.js';
import type { HttpOptions } from '../http/app.js';
import { checkRequestScopeOptions, type RequestScopeOptions, refusedRequest, runInRequestScope } from './request-scope.js';

export { parseTagsHeader, type RequestScopeOptions, TAGS_HEADER } from './request-scope.js';

/**
 * Middleware that runs the rest of the request inside Baton's request scope: every run enqueued
 * while handling it gets the request's tags (`options.tags(req)` over the `baton-tags` header), is a
 * child of the calling run when a `baton-context` header came with it, and its enqueue span hangs
 * under the request's `traceparent`. A refused header answers 400 (malformed, tampered) or 409 (the
 * calling attempt has ended) with `{ error: { code, message } }`. Register it before your routes.
 *
 * @example
 * app.use(batonMiddleware({ tags: (req) => ({ route: req.path }) }));
 * app.post('/orders', async (req, res) => res.json({ id: (await placeOrder.enqueue(req.body)).id }));
 */
export function batonMiddleware(options: RequestScopeOptions<Request> = {}): RequestHandler {
  checkRequestScopeOptions(options, 'batonMiddleware');
  return (req: Request, res: Response, next: NextFunction) => {
    const isOver = requestOver(res);
    runInRequestScope(
      req,
      (name) => headerOf(req, name),
      options,
      () => {
        next();
        return isOver;
      },
    ).catch((error: unknown) => {
      const answer = refusedRequest(error);
      if (answer && !res.headersSent) res.status(answer.status).json(answer.body);
      else next(error);
    });
  };
}

/**
 * The HTTP API and dashboard as an Express handler, for `app.use(path, …)`: the mount path is
 * read from the request, so the dashboard works at any path. `options` are `baton.http()`'s
 * (`auth`, `dashboard`, `metrics`, `maxBodyBytes`); every API route needs a token unless
 * `auth: 'none'`. Mount it before body parsers such as `express.json()` (a body they already
 * read is passed on, re-encoded as JSON).
 *
 * @example
 * app.use('/baton', batonHttp(baton)); // dashboard at /baton/, API at /baton/api/v1
 */
export function batonHttp(baton: Baton, options: Omit<HttpOptions, 'basePath'> = {}): RequestHandler {
  const listeners = new Map<string, (req: IncomingMessage, res: ServerResponse) => Promise<unknown>>();
  const listenerFor = (basePath: string) => {
    let listener = listeners.get(basePath);
    if (!listener) {
      // Mount paths with parameters would grow this without bound: keep the last few.
      if (listeners.size >= 64) listeners.clear();
      const app = baton.http({ ...options, basePath });
      listener = getRequestListener((request) => app.fetch(request), { overrideGlobalObjects: false });
      listeners.set(basePath, listener);
    }
    return listener;
  };
  return (req: Request, res: Response, next: NextFunction) => {
    const base = req.baseUrl;
    const [path = '', query] = splitQuery(req.originalUrl);
    // The dashboard's asset links are relative: it must be served from a path ending in '/'.
    if ((req.method === 'GET' || req.method === 'HEAD') && base !== '' && path === base) {
      res.redirect(308, `${base}/${query === undefined ? '' : `?${query}`}`);
      return;
    }
    keepParsedBody(req);
    req.url = req.originalUrl;
    listenerFor(base)(req, res).catch(next);
  };
}

function headerOf(req: Request, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Resolves when the response is finished or the connection closed. */
function requestOver(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.writableFinished || res.destroyed) return resolve();
    res.once('finish', () => resolve());
    res.once('close', () => resolve());
  });
}

function splitQuery(url: string): [string, string | undefined] {
  const at = url.indexOf('?');
  return at < 0 ? [url, undefined] : [url.slice(0, at), url.slice(at + 1)];
}

/** A body a parser already read is handed to the Fetch bridge as `rawBody` (which it reads first). */
function keepParsedBody(req: Request): void {
  const holder = req as Request & { rawBody?: unknown; body?: unknown };
  if (holder.rawBody instanceof Buffer || !req.readableEnded || holder.body === undefined) return;
  const body = holder.body;
  holder.rawBody = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
}
