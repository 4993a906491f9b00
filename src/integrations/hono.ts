/**
 * `baton/hono`: `batonMiddleware()` runs each request in a scope carrying its tags, the
 * calling run's context and its trace context, so `task.enqueue()` in a handler gets
 * them. Mounting the API and dashboard needs no adapter in Hono:
 * `app.all('/baton/*', (c) => batonApp.fetch(c.req.raw))` with
 * `baton.http({ basePath: '/baton' })`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { checkRequestScopeOptions, type RequestScopeOptions, refusedRequest, runInRequestScope } from './request-scope.js';

export { parseTagsHeader, type RequestScopeOptions, TAGS_HEADER } from './request-scope.js';

/**
 * Middleware that runs the rest of the request inside Baton's request scope: every run enqueued
 * while handling it gets the request's tags (`tags(c)` over the `baton-tags` header), is a child
 * of the calling run when a `baton-context` header came with it, and its enqueue span hangs under
 * the request's `traceparent`. A refused header answers 400 (malformed, tampered) or 409 (the
 * calling attempt has ended) with `{ error: { code, message } }`. The calling run's context ends
 * with the handler: work a streaming response does after it returned no longer sees it.
 *
 * @example
 * app.use(batonMiddleware({ tags: (c) => ({ route: c.req.path }) }));
 * app.post('/orders', async (c) => c.json({ id: (await placeOrder.enqueue(await c.req.json())).id }));
 */
export function batonMiddleware(options: RequestScopeOptions<Context> = {}): MiddlewareHandler {
  checkRequestScopeOptions(options, 'batonMiddleware');
  return async (c, next) => {
    try {
      await runInRequestScope(
        c,
        (name) => c.req.header(name),
        options,
        () => next(),
      );
    } catch (error) {
      const answer = refusedRequest(error);
      if (!answer) throw error;
      return c.json(answer.body, answer.status);
    }
  };
}
