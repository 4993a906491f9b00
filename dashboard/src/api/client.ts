/**
 * Every call to the HTTP API goes through here: URLs relative to the mount
 * base (`api/v1/...`), the chosen namespace, the session cookie (sent by the
 * browser) and the CSRF header on changes. A 401 sends the user to the login
 * page. Errors come back as `ApiError` with the server's code and issues.
 */
import { goToLogin, mountBase } from '../lib/router';
import type { Issue } from './types';

export type QueryValue = string | number | undefined | readonly string[];

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly issues: Issue[];

  constructor(status: number, code: string, message: string, issues: Issue[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.issues = issues;
  }
}

const NAMESPACE_KEY = 'baton.namespace';
const SESSION_KEY = 'baton.session';

export function currentNamespace(): string {
  return window.localStorage.getItem(NAMESPACE_KEY) || 'default';
}

export function setNamespace(namespace: string): void {
  if (namespace === '' || namespace === 'default') window.localStorage.removeItem(NAMESPACE_KEY);
  else window.localStorage.setItem(NAMESPACE_KEY, namespace);
}

export interface SessionInfo {
  scope?: 'read' | 'write';
  namespaces?: string[];
}

/** What `POST session` said about the token (scope, namespaces); `{}` when unknown. */
export function sessionInfo(): SessionInfo {
  try {
    const raw = window.localStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as SessionInfo) : {};
  } catch {
    return {};
  }
}

function readCookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

/** The absolute URL of an API path (`runs/abc`), with the query and the namespace. */
export function apiUrl(path: string, query: Record<string, QueryValue> = {}): string {
  const url = new URL(`api/v1/${path}`, mountBase());
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === '') continue;
    if (typeof value === 'string' || typeof value === 'number') url.searchParams.append(key, String(value));
    else for (const v of value) url.searchParams.append(key, v);
  }
  const namespace = currentNamespace();
  if (namespace !== 'default') url.searchParams.set('namespace', namespace);
  return url.toString();
}

async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = (body as { error?: { code?: string; message?: string; issues?: Issue[] } } | undefined)?.error;
  return new ApiError(
    response.status,
    error?.code ?? `HTTP_${response.status}`,
    error?.message ?? `${response.status} ${response.statusText || 'request failed'}`,
    Array.isArray(error?.issues) ? error.issues : [],
  );
}

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  signal?: AbortSignal;
  /** Do not go to the login page on 401 (the login form itself). */
  isLoginRequest?: boolean;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = readCookie('baton_csrf');
    if (csrf) headers['x-baton-csrf'] = csrf;
  }
  const response = await fetch(apiUrl(path, options.query), {
    method,
    headers,
    credentials: 'same-origin',
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
  });
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && !options.isLoginRequest) goToLogin();
    throw error;
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export const api = {
  get: <T>(path: string, query?: Record<string, QueryValue>, signal?: AbortSignal) => request<T>('GET', path, { query, signal }),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, { body: body ?? {} }),
  delete: <T>(path: string) => request<T>('DELETE', path),
};

export async function login(token: string): Promise<void> {
  const info = await request<SessionInfo | undefined>('POST', 'session', { body: { token }, isLoginRequest: true });
  window.localStorage.setItem(SESSION_KEY, JSON.stringify(info ?? {}));
}

export async function logout(): Promise<void> {
  window.localStorage.removeItem(SESSION_KEY);
  try {
    await request('DELETE', 'session', { isLoginRequest: true });
  } catch {
    // Already logged out (or the server is down): the login page is still the right place.
  }
}

/** A short text for any error, for banners. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  if (error instanceof Error) return error.message;
  return String(error);
}
