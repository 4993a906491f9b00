/**
 * Authentication and authorization for every route under /api/v1 (and
 * /metrics): a bearer token, or the dashboard's session cookie plus its CSRF
 * header on changes. Read tokens may only GET; a token sees only its
 * namespaces. `auth: 'none'` (local development) lets everything through.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { is } from '../engine/options.js';
import { HttpError } from './errors.js';
import type { Caller, HttpHost, HttpVariables } from './scope.js';

export const SESSION_COOKIE = 'baton_session';
export const CSRF_COOKIE = 'baton_csrf';
export const CSRF_HEADER = 'x-baton-csrf';
const SESSION_MAX_AGE_S = 12 * 60 * 60;

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The namespace a request names (query `namespace` or header `baton-namespace`), else the instance's. */
export function requestedNamespace(c: Context, fallback: string): string {
  const namespace = c.req.query('namespace') ?? c.req.header('baton-namespace') ?? fallback;
  const problem = is.name(namespace, 'namespace');
  if (problem) throw new HttpError(400, 'BATON_BAD_QUERY', problem, [{ path: 'namespace', message: 'not a namespace name' }]);
  return namespace;
}

/** A presented token's rights: the configured token, or an active stored one. */
async function rightsOf(host: HttpHost, token: string): Promise<{ scope: 'read' | 'write'; namespaces: string[] } | undefined> {
  if (host.configuredToken !== undefined && sameString(token, host.configuredToken)) return { scope: 'write', namespaces: ['*'] };
  return host.tokens.verify(token);
}

async function callerOf(c: Context, host: HttpHost, isAuthRequired: boolean): Promise<Caller> {
  if (!isAuthRequired) return { kind: 'anonymous', scope: 'write', namespaces: ['*'] };
  const header = c.req.header('authorization');
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const token = match ? await rightsOf(host, match[1] as string) : undefined;
    if (!token) throw new HttpError(401, 'BATON_UNAUTHORIZED', 'the bearer token is missing, malformed, unknown or revoked');
    return { kind: 'token', scope: token.scope, namespaces: token.namespaces };
  }
  const session = getCookie(c, SESSION_COOKIE);
  if (session) {
    const token = await rightsOf(host, session);
    if (token) {
      if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
        const csrf = getCookie(c, CSRF_COOKIE);
        const sent = c.req.header(CSRF_HEADER);
        if (!csrf || !sent || !sameString(csrf, sent)) {
          throw new HttpError(403, 'BATON_CSRF', `changes from the dashboard need the ${CSRF_HEADER} header`);
        }
      }
      return { kind: 'session', scope: token.scope, namespaces: token.namespaces };
    }
  }
  throw new HttpError(401, 'BATON_UNAUTHORIZED', 'send Authorization: Bearer <token> (or log in to the dashboard)');
}

/** Checks the caller, its scope and its namespace, and puts them on the context. */
export function authenticate(host: HttpHost, isAuthRequired: boolean): MiddlewareHandler<{ Variables: HttpVariables }> {
  return async (c, next) => {
    const caller = await callerOf(c, host, isAuthRequired);
    const namespace = requestedNamespace(c, host.namespace);
    if (!caller.namespaces.includes('*') && !caller.namespaces.includes(namespace)) {
      throw new HttpError(403, 'BATON_FORBIDDEN', `this token may not see namespace "${namespace}"`);
    }
    const isRead = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (!isRead && caller.scope !== 'write') {
      throw new HttpError(403, 'BATON_FORBIDDEN', 'this token may only read (scope "read")');
    }
    c.set('caller', caller);
    c.set('api', host.forNamespace(namespace));
    await next();
  };
}

/** `POST /session { token }`: exchanges a token for the dashboard's cookies. */
export async function openSession(c: Context, host: HttpHost, token: string): Promise<Response> {
  const found = await rightsOf(host, token);
  if (!found) throw new HttpError(401, 'BATON_UNAUTHORIZED', 'unknown or revoked token');
  const secure = new URL(c.req.url).protocol === 'https:';
  const path = '/';
  setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: 'Strict', secure, path, maxAge: SESSION_MAX_AGE_S });
  setCookie(c, CSRF_COOKIE, randomBytes(24).toString('base64url'), {
    sameSite: 'Strict',
    secure,
    path,
    maxAge: SESSION_MAX_AGE_S,
  });
  return c.json({ scope: found.scope, namespaces: found.namespaces });
}

export function closeSession(c: Context): Response {
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
  deleteCookie(c, CSRF_COOKIE, { path: '/' });
  return c.body(null, 204);
}
