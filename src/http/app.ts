/**
 * The HTTP app (Hono): /api/v1 (every route behind the token check), /healthz,
 * /metrics and the dashboard, with security headers on every answer. Served by
 * `baton.serve()`, or mounted in any framework through `baton.http().fetch`.
 */
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { authenticate, requestedNamespace } from './auth.js';
import { dashboardResponse } from './dashboard.js';
import { errorBody, toErrorResponse } from './errors.js';
import { liveRoutes } from './live.js';
import { Metrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { otherRoutes, sessionRoutes } from './routes-other.js';
import { runRoutes } from './routes-runs.js';
import type { HttpHost, HttpVariables } from './scope.js';

export interface HttpOptions {
  /** `token` (default): every API route needs a token or a dashboard session. `none`: local development only. */
  auth?: 'token' | 'none';
  /** Largest request body in bytes. Default 5 MiB. */
  maxBodyBytes?: number;
  /** Serve the dashboard at `/`. Default true. */
  dashboard?: boolean;
  /** `/metrics` needs a token (default) or is public. */
  metrics?: 'token' | 'public';
  /** Where the app is mounted in a larger server (e.g. `/admin/baton`), so paths resolve. Default ''. */
  basePath?: string;
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * Refuses a body over `maxSize` bytes: at once when its Content-Length says so, else as
 * soon as the bytes read pass the limit (a Content-Length is not trusted to be true when
 * the app is called in process). Chunks are kept as they come and joined once (not copied
 * into ever-doubling buffers), so a refused body costs at most the limit.
 */
function limitBody(maxSize: number, onError: (c: Context) => Response): MiddlewareHandler {
  return async (c, next) => {
    const raw = c.req.raw;
    if (!raw.body) return next();
    if (Number(raw.headers.get('content-length') ?? 0) > maxSize) return onError(c);
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = raw.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxSize) {
        chunks.length = 0;
        void reader.cancel().catch(() => undefined);
        return onError(c);
      }
      chunks.push(value);
    }
    c.req.raw = new Request(raw, { body: Buffer.concat(chunks, size) });
    return next();
  };
}

export function createHttpApp(host: HttpHost, options: HttpOptions = {}): Hono {
  const isAuthRequired = options.auth !== 'none';
  const maxBody = options.maxBodyBytes ?? 5 * 1024 * 1024;
  const app = new Hono();
  const base = app.basePath(options.basePath ?? '');
  const log = (error: unknown) => host.logError(error, 'HTTP request failed');

  base.use('*', async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
  });
  base.use(
    '/api/*',
    limitBody(maxBody, (c) =>
      c.json(errorBody('BATON_PAYLOAD_TOO_LARGE', `request body over the limit of ${maxBody} bytes`), 413),
    ),
  );

  base.get('/healthz', (c) => c.text('ok'));

  const session = new Hono();
  sessionRoutes(session, host);
  base.route('/api/v1', session);

  const api = new Hono<{ Variables: HttpVariables }>();
  api.use('*', authenticate(host, isAuthRequired));
  api.get('/openapi.json', (c) => c.json(openApiDocument()));
  runRoutes(api);
  liveRoutes(api);
  otherRoutes(api);
  api.all('*', (c) => c.json(errorBody('BATON_NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), 404));
  base.route('/api/v1', api);

  const metrics = new Metrics();
  const metricsApp = new Hono<{ Variables: HttpVariables }>();
  if (options.metrics !== 'public') metricsApp.use('*', authenticate(host, isAuthRequired));
  metricsApp.get('/', async (c) => {
    const namespace = requestedNamespace(c, host.namespace);
    const text = await metrics.render([host.forNamespace(namespace)]);
    return c.body(text, 200, { 'content-type': metrics.registry.contentType });
  });
  base.route('/metrics', metricsApp);

  if (options.dashboard !== false) {
    const prefix = options.basePath ?? '';
    base.get('/*', (c) => dashboardResponse(c.req.path.slice(prefix.length)));
  }

  app.onError((error, c) => toErrorResponse(c, error, log));
  app.notFound((c) => c.json(errorBody('BATON_NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), 404));
  return app;
}
