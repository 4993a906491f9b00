/**
 * The dashboard's static files (built by `npm run build:dashboard` into
 * dist/dashboard): hashed assets as they are, every other path gets index.html
 * (the app routes in the browser). Without a build, a page says how to make one.
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Baton</title>
<p>The dashboard is not built. Run <code>npm run build:dashboard</code>; the API is at <code>api/v1</code>.</p>`;

/** The response for a dashboard path (relative to where the dashboard is mounted). */
export async function dashboardResponse(relativePath: string): Promise<Response> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relativePath);
  } catch {
    return new Response('not found', { status: 404 }); // a malformed %-escape names no file
  }
  const clean = normalize(decoded).replace(/^([/\\])+/, '');
  const file = join(ROOT, clean);
  if (!file.startsWith(ROOT) || clean.split(sep).includes('..')) return new Response('not found', { status: 404 });
  const ext = extname(file);
  try {
    const body = await readFile(ext ? file : join(ROOT, 'index.html'));
    const type = TYPES[ext || '.html'] ?? 'application/octet-stream';
    const cache = clean.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    return new Response(body, { headers: { 'content-type': type, 'cache-control': cache } });
  } catch {
    if (ext && ext !== '.html') return new Response('not found', { status: 404 });
    try {
      return new Response(await readFile(join(ROOT, 'index.html')), { headers: { 'content-type': TYPES['.html'] as string } });
    } catch {
      return new Response(NOT_BUILT, { headers: { 'content-type': TYPES['.html'] as string } });
    }
  }
}
