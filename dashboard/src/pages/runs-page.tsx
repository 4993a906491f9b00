/**
 * Runs (home): the newest runs with filters kept in the URL (status, task,
 * tag), a search box, cursor paging ("Load more") and a 2-second live
 * refresh of everything loaded so far. Opens the "Start run" dialog.
 */
import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, api, sessionInfo } from '../api/client';
import { useTasks } from '../api/tasks';
import { type Page, type RunSummary, STATE_NAMES, STATE_TYPES } from '../api/types';
import { Card, Empty, ErrorBanner, Loading, PageHeader } from '../components/layout-parts';
import { StateBadge, stateLabel } from '../components/state-badge';
import { Tags } from '../components/tags';
import { RelTime } from '../components/time';
import { href, navigate } from '../lib/router';
import { StartRunDialog } from './start-run-dialog';

const PAGE_SIZE = 50;
const POLL_MS = 2000;

function setFilter(query: URLSearchParams, key: string, value: string) {
  const next: Record<string, string | undefined> = {};
  for (const [k, v] of query) next[k] = v;
  next[key] = value || undefined;
  navigate('/', { query: next, replace: true });
}

function useRunList(status: string, task: string, tag: string, isLive: boolean) {
  const [items, setItems] = useState<RunSummary[]>([]);
  const [nextCursor, setNextCursor] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [isLoading, setIsLoading] = useState(true);
  const [isLoadingMore, setIsLoadingMore] = useState(false);
  // Bumped when the filters change or a page is appended: older refreshes are then dropped.
  const epoch = useRef(0);
  const loaded = useRef(0);
  const isInFlight = useRef(false);
  loaded.current = items.length;

  const filters = { status, task, tag };
  const refresh = useCallback(async () => {
    if (isInFlight.current) return;
    isInFlight.current = true;
    const at = epoch.current;
    try {
      const limit = Math.min(1000, Math.max(PAGE_SIZE, loaded.current));
      const page = await api.get<Page<RunSummary>>('runs', { status, task, tag, limit });
      if (at !== epoch.current) return;
      setItems(page.items);
      setNextCursor(page.nextCursor);
      setError(undefined);
    } catch (e) {
      if (at === epoch.current) setError(e);
    } finally {
      isInFlight.current = false;
      if (at === epoch.current) setIsLoading(false);
    }
  }, [status, task, tag]);

  useEffect(() => {
    epoch.current += 1;
    loaded.current = 0;
    isInFlight.current = false;
    setItems([]);
    setNextCursor(undefined);
    setIsLoading(true);
    void refresh();
  }, [refresh]);

  useEffect(() => {
    if (!isLive) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') void refresh();
    }, POLL_MS);
    return () => window.clearInterval(timer);
  }, [refresh, isLive]);

  const loadMore = async () => {
    if (!nextCursor) return;
    epoch.current += 1;
    const at = epoch.current;
    setIsLoadingMore(true);
    try {
      const page = await api.get<Page<RunSummary>>('runs', { ...filters, limit: PAGE_SIZE, cursor: nextCursor });
      if (at !== epoch.current) return;
      setItems((current) => {
        const seen = new Set(current.map((r) => r.id));
        return [...current, ...page.items.filter((r) => !seen.has(r.id))];
      });
      setNextCursor(page.nextCursor);
    } catch (e) {
      setError(e);
    } finally {
      setIsLoadingMore(false);
    }
  };

  return { items, nextCursor, error, isLoading, isLoadingMore, loadMore, refresh };
}

export function RunsPage({ query }: { query: URLSearchParams }) {
  const status = query.get('status') ?? '';
  const task = query.get('task') ?? '';
  const tag = query.get('tag') ?? '';
  const [isLive, setIsLive] = useState(true);
  const [search, setSearch] = useState('');
  const [searchNote, setSearchNote] = useState<string | undefined>(undefined);
  const [tagDraft, setTagDraft] = useState(tag);
  const [isStarting, setIsStarting] = useState(false);
  const tasks = useTasks();
  const list = useRunList(status, task, tag, isLive);
  const canWrite = sessionInfo().scope !== 'read';

  useEffect(() => setTagDraft(tag), [tag]);

  const needle = search.trim().toLowerCase();
  const shown = needle
    ? list.items.filter(
        (r) =>
          r.id.toLowerCase().includes(needle) ||
          r.taskName.toLowerCase().includes(needle) ||
          r.workflowName.toLowerCase().includes(needle),
      )
    : list.items;

  // Enter in the search box: a task's name filters by it, anything else is tried as a run id.
  const submitSearch = async (event: FormEvent) => {
    event.preventDefault();
    const q = search.trim();
    setSearchNote(undefined);
    if (q === '') return;
    if (tasks.data?.items.some((t) => t.name === q)) {
      setSearch('');
      setFilter(query, 'task', q);
      return;
    }
    try {
      const run = await api.get<RunSummary>(`runs/${encodeURIComponent(q)}`);
      navigate(`/runs/${encodeURIComponent(run.id)}`);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 400)) {
        if (shown.length === 0) setSearchNote(`No run with id "${q}" and no task named "${q}".`);
      } else setSearchNote(e instanceof Error ? e.message : String(e));
    }
  };

  const hasFilters = status !== '' || task !== '' || tag !== '';

  return (
    <>
      <PageHeader
        title="Runs"
        subtitle="Newest first. Click a run to see its states, logs and output."
        actions={
          canWrite && (
            <button type="button" className="button button-primary" data-testid="start-run" onClick={() => setIsStarting(true)}>
              + Start run
            </button>
          )
        }
      />
      <Card>
        <div className="toolbar">
          <form className="search" onSubmit={(e) => void submitSearch(e)}>
            <input
              className="input"
              type="search"
              placeholder="Search by run id or task…"
              aria-label="Search runs"
              data-testid="runs-search"
              value={search}
              onChange={(e) => {
                setSearch(e.target.value);
                setSearchNote(undefined);
              }}
            />
          </form>
          <select
            className="input"
            aria-label="Status"
            data-testid="runs-filter-status"
            value={status}
            onChange={(e) => setFilter(query, 'status', e.target.value)}
          >
            <option value="">Any status</option>
            <optgroup label="By type">
              {STATE_TYPES.map((t) => (
                <option key={t} value={t}>
                  Any {t.toLowerCase()}
                </option>
              ))}
            </optgroup>
            <optgroup label="Exact state">
              {STATE_NAMES.map((n) => (
                <option key={n} value={n}>
                  {stateLabel(n)}
                </option>
              ))}
            </optgroup>
          </select>
          <select
            className="input"
            aria-label="Task"
            data-testid="runs-filter-task"
            value={task}
            onChange={(e) => setFilter(query, 'task', e.target.value)}
          >
            <option value="">Any task</option>
            {task !== '' && !tasks.data?.items.some((t) => t.name === task) && <option value={task}>{task}</option>}
            {tasks.data?.items.map((t) => (
              <option key={`${t.kind}:${t.name}`} value={t.name}>
                {t.kind === 'workflow' ? `${t.name} (workflow)` : t.name}
              </option>
            ))}
          </select>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              setFilter(query, 'tag', tagDraft.trim());
            }}
          >
            <input
              className="input"
              placeholder="tag key:value"
              aria-label="Tag"
              data-testid="runs-filter-tag"
              value={tagDraft}
              onChange={(e) => setTagDraft(e.target.value)}
              onBlur={() => {
                if (tagDraft.trim() !== tag) setFilter(query, 'tag', tagDraft.trim());
              }}
            />
          </form>
          {hasFilters && (
            <button type="button" className="button button-ghost" onClick={() => navigate('/', { replace: true })}>
              Clear filters
            </button>
          )}
          <label className="toggle" title="Refresh every 2 seconds">
            <input type="checkbox" data-testid="runs-live" checked={isLive} onChange={(e) => setIsLive(e.target.checked)} />
            <span className={`live-dot ${isLive ? 'is-live' : ''}`} aria-hidden="true" />
            Live
          </label>
        </div>
        {searchNote && <div className="banner banner-info">{searchNote}</div>}
        <ErrorBanner error={list.error} />
        {list.isLoading && list.items.length === 0 ? (
          <Loading />
        ) : shown.length === 0 ? (
          <Empty>{hasFilters || needle ? 'No run matches these filters.' : 'No runs yet. Start one with "Start run".'}</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="runs-table">
              <thead>
                <tr>
                  <th>State</th>
                  <th>Run</th>
                  <th>Tags</th>
                  <th>Created</th>
                  <th className="num">Attempt</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((run) => (
                  <tr key={run.id} data-testid="run-row" data-run-id={run.id} data-state-name={run.state.name}>
                    <td>
                      <StateBadge state={run.state} testId="run-row-state" />
                    </td>
                    <td>
                      <a className="run-link" href={href(`/runs/${encodeURIComponent(run.id)}`)}>
                        <span className="run-name">{run.taskName}</span>
                        {run.workflowName !== run.taskName && <span className="muted"> in {run.workflowName}</span>}
                      </a>
                      <div className="mono small muted">{run.id}</div>
                    </td>
                    <td>
                      <Tags tags={run.tags} />
                    </td>
                    <td>
                      <RelTime iso={run.createdAt} />
                    </td>
                    <td className="num">{run.attempt}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {list.nextCursor && (
          <div className="load-more">
            <button
              type="button"
              className="button"
              data-testid="runs-load-more"
              disabled={list.isLoadingMore}
              onClick={() => void list.loadMore()}
            >
              {list.isLoadingMore ? 'Loading…' : 'Load more'}
            </button>
          </div>
        )}
      </Card>
      {isStarting && <StartRunDialog tasks={tasks.data?.items ?? []} onClose={() => setIsStarting(false)} />}
    </>
  );
}
