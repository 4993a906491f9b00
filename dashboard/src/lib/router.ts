/**
 * A tiny hash router: routes live after `#` (`#/runs/abc?tab=logs`), so the
 * document URL stays the mount base and relative asset and API URLs resolve
 * under any prefix (`/admin/baton/#/runs/abc`). A server that sends the
 * dashboard at `<base>/login` (no hash) also shows the login page.
 */
import { useSyncExternalStore } from 'react';

export interface Route {
  path: string;
  query: URLSearchParams;
}

function currentHash(): string {
  const hash = window.location.hash.replace(/^#/, '');
  if (hash !== '') return hash.startsWith('/') ? hash : `/${hash}`;
  return /\/login\/?$/.test(window.location.pathname) ? '/login' : '/';
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

/** The current route; re-renders on every hash change. */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, currentHash, currentHash);
  const at = hash.indexOf('?');
  return at < 0
    ? { path: hash, query: new URLSearchParams() }
    : { path: hash.slice(0, at), query: new URLSearchParams(hash.slice(at + 1)) };
}

/** The href for a route path, e.g. `href('/runs/abc')` → `#/runs/abc`. */
export function href(path: string, query?: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') params.set(k, v);
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

/** The document URL of the mount base (where index.html is), with a trailing slash. */
export function mountBase(): URL {
  const url = new URL(window.location.href);
  url.hash = '';
  url.search = '';
  url.pathname = url.pathname.replace(/\/login\/?$/, '/');
  return new URL('./', url);
}

export function navigate(path: string, options: { query?: Record<string, string | undefined>; replace?: boolean } = {}): void {
  const target = href(path, options.query);
  // Leaving `<base>/login` (server-side login URL) goes back to the base itself.
  const onLoginPath = window.location.hash === '' && /\/login\/?$/.test(window.location.pathname);
  if (onLoginPath) {
    window.location.assign(new URL(target, mountBase()).toString());
    return;
  }
  if (options.replace) window.location.replace(target);
  else window.location.hash = target.slice(1);
}

/** Sends the browser to the login page, remembering where it was. */
export function goToLogin(): void {
  const here = currentHash();
  if (here === '/login') return;
  navigate('/login', { query: { next: here === '/' ? undefined : here }, replace: true });
}
