/** Login: exchanges an API token for the session cookie (POST api/v1/session). */
import { type FormEvent, useState } from 'react';
import { ApiError, login } from '../api/client';
import { href, navigate } from '../lib/router';

export function LoginPage({ next }: { next: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [isBusy, setIsBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setIsBusy(true);
    setError(undefined);
    try {
      await login(token.trim());
      navigate(next.startsWith('/') && next !== '/login' ? next : '/', { replace: true });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setError('That token is unknown or revoked.');
      else if (e instanceof ApiError) setError(`${e.message} (${e.code})`);
      else setError(`Could not reach the server: ${e instanceof Error ? e.message : String(e)}`);
      setIsBusy(false);
    }
  };

  return (
    <main className="login-card card">
      <div className="login-brand">
        <span className="brand-mark" aria-hidden="true" />
        <h1>Baton</h1>
      </div>
      <p className="muted">
        Paste an API token (<code>baton tokens create</code>). It is exchanged for a session cookie and not kept by the page.
      </p>
      <form onSubmit={(e) => void submit(e)} className="form">
        <label className="field">
          <span>API token</span>
          <input
            className="input"
            type="password"
            autoComplete="current-password"
            data-testid="login-token"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            required
          />
        </label>
        {error && (
          <div className="banner banner-error" role="alert" data-testid="login-error">
            {error}
          </div>
        )}
        <button
          type="submit"
          className="button button-primary button-block"
          data-testid="login-submit"
          disabled={isBusy || token.trim() === ''}
        >
          {isBusy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p className="muted small login-hint">
        Server started with <code>auth: 'none'</code>? No login is needed: <a href={href('/')}>open the dashboard</a>.
      </p>
    </main>
  );
}
