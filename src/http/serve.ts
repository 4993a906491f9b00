/** `baton.serve()`: the HTTP app on a Node server, refusing to run without auth anywhere but loopback. */
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { ValidationError } from '../errors.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function serveHttp(
  app: Hono,
  options: { port: number; host: string; auth: 'token' | 'none' },
): Promise<{ url: string; close(): Promise<void> }> {
  if (options.auth === 'none' && !LOOPBACK.has(options.host)) {
    throw new ValidationError(
      `serve: auth 'none' only binds to a loopback address (127.0.0.1, ::1, localhost), not "${options.host}"; create a token with baton.tokens.create() instead`,
      [{ path: 'host', message: 'not loopback' }],
    );
  }
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, (info) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
    server.once('error', reject);
  });
}
