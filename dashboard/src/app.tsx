/** The shell (side navigation, namespace, theme, logout) and the route table. */
import { useState } from 'react';
import { currentNamespace, logout, sessionInfo, setNamespace } from './api/client';
import { href, navigate, type Route, useRoute } from './lib/router';
import { useTheme } from './lib/theme';
import { EventsPage } from './pages/events-page';
import { LoginPage } from './pages/login-page';
import { MetricsPage } from './pages/metrics-page';
import { RunPage } from './pages/run-page';
import { RunsPage } from './pages/runs-page';
import { SchedulesPage } from './pages/schedules-page';
import { WorkersPage } from './pages/workers-page';

const NAV = [
  { path: '/', label: 'Runs', testId: 'nav-runs', icon: '▶' },
  { path: '/workers', label: 'Workers', testId: 'nav-workers', icon: '⚙' },
  { path: '/schedules', label: 'Schedules', testId: 'nav-schedules', icon: '◷' },
  { path: '/events', label: 'Events', testId: 'nav-events', icon: '✉' },
  { path: '/metrics', label: 'Metrics', testId: 'nav-metrics', icon: '▤' },
];

function isActive(item: string, path: string): boolean {
  if (item === '/') return path === '/' || path.startsWith('/runs');
  return path === item || path.startsWith(`${item}/`);
}

function page(route: Route) {
  const run = /^\/runs\/([^/]+)$/.exec(route.path);
  if (run?.[1]) {
    const runId = decodeURIComponent(run[1]);
    return <RunPage key={runId} runId={runId} query={route.query} />;
  }
  switch (route.path) {
    case '/':
    case '/runs':
      return <RunsPage query={route.query} />;
    case '/workers':
      return <WorkersPage />;
    case '/schedules':
      return <SchedulesPage />;
    case '/events':
      return <EventsPage />;
    case '/metrics':
      return <MetricsPage />;
    default:
      return (
        <div className="empty">
          No page at <code>{route.path}</code>. <a href={href('/')}>Go to runs</a>
        </div>
      );
  }
}

function NamespacePicker({ value, onChange }: { value: string; onChange: (ns: string) => void }) {
  const known = sessionInfo().namespaces;
  const [draft, setDraft] = useState(value);
  if (known && known.length > 0 && !known.includes('*')) {
    return (
      <select
        className="input input-small"
        aria-label="Namespace"
        data-testid="namespace"
        value={value}
        onChange={(e) => onChange(e.target.value)}
      >
        {(known.includes(value) ? known : [value, ...known]).map((ns) => (
          <option key={ns} value={ns}>
            {ns}
          </option>
        ))}
      </select>
    );
  }
  return (
    <input
      className="input input-small"
      aria-label="Namespace"
      data-testid="namespace"
      value={draft}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={() => onChange(draft.trim() || 'default')}
      onKeyDown={(e) => {
        if (e.key === 'Enter') onChange(draft.trim() || 'default');
      }}
    />
  );
}

export function App() {
  const route = useRoute();
  const { theme, toggle } = useTheme();
  const [namespace, setNs] = useState(currentNamespace);

  const themeButton = (
    <button
      type="button"
      className="button button-ghost theme-toggle"
      data-testid="theme-toggle"
      aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
      title={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
      onClick={toggle}
    >
      {theme === 'dark' ? '☀ Light' : '☾ Dark'}
    </button>
  );

  if (route.path === '/login') {
    return (
      <div className="login-shell">
        <div className="login-theme">{themeButton}</div>
        <LoginPage next={route.query.get('next') ?? '/'} />
      </div>
    );
  }

  const changeNamespace = (ns: string) => {
    if (ns === namespace) return;
    setNamespace(ns);
    setNs(ns);
  };

  return (
    <div className="shell">
      <aside className="sidebar">
        <a className="brand" href={href('/')}>
          <span className="brand-mark" aria-hidden="true" />
          <span className="brand-name">Baton</span>
        </a>
        <nav className="nav" aria-label="Main">
          {NAV.map((item) => (
            <a
              key={item.path}
              href={href(item.path)}
              data-testid={item.testId}
              className={`nav-link ${isActive(item.path, route.path) ? 'is-active' : ''}`}
              aria-current={isActive(item.path, route.path) ? 'page' : undefined}
            >
              <span className="nav-icon" aria-hidden="true">
                {item.icon}
              </span>
              {item.label}
            </a>
          ))}
        </nav>
        <div className="sidebar-footer">
          <div className="field-compact">
            <span>Namespace</span>
            <NamespacePicker key={namespace} value={namespace} onChange={changeNamespace} />
          </div>
          {themeButton}
          <button
            type="button"
            className="button button-ghost"
            data-testid="logout"
            onClick={() => {
              void logout().then(() => navigate('/login'));
            }}
          >
            Log out
          </button>
        </div>
      </aside>
      <main className="main" key={namespace}>
        {page(route)}
      </main>
    </div>
  );
}
