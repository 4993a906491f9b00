/**
 * A run's logs: fetched on each `log` event of the live stream and every 2 s
 * while the run is active (the fallback when server-sent events are not
 * available). The whole list is read each time, unless the entries carry an
 * `index`: then only those after the last one (`logs?after=<index>`).
 */
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { api } from '../api/client';
import type { LogEntry } from '../api/types';
import { Empty, ErrorBanner } from '../components/layout-parts';
import { formatClock, formatTime, prettyJson } from '../lib/format';

const POLL_MS = 2000;

export function useRunLogs(runId: string, isActive: boolean) {
  const [lines, setLines] = useState<LogEntry[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const linesRef = useRef<LogEntry[]>([]);
  const isInFlight = useRef(false);
  const isDirty = useRef(false);

  const fetchNow = useCallback(async () => {
    if (isInFlight.current) {
      isDirty.current = true;
      return;
    }
    isInFlight.current = true;
    try {
      do {
        isDirty.current = false;
        const have = linesRef.current;
        const lastIndex = have[have.length - 1]?.index;
        const query = typeof lastIndex === 'number' ? { after: lastIndex } : undefined;
        const page = await api.get<{ items: LogEntry[] }>(`runs/${encodeURIComponent(runId)}/logs`, query);
        if (typeof lastIndex === 'number') {
          const fresh = page.items.filter((l) => typeof l.index === 'number' && l.index > lastIndex);
          if (fresh.length > 0) linesRef.current = [...have, ...fresh];
        } else if (page.items.length !== have.length) {
          // Logs are append-only: a list of the same length is the same list.
          linesRef.current = page.items;
        }
        setLines(linesRef.current);
        setError(undefined);
      } while (isDirty.current);
    } catch (e) {
      setError(e);
    } finally {
      isInFlight.current = false;
    }
  }, [runId]);

  useEffect(() => {
    void fetchNow();
    if (!isActive) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') void fetchNow();
    }, POLL_MS);
    return () => window.clearInterval(timer);
  }, [fetchNow, isActive]);

  return { lines, error, fetchNow };
}

export function LogsPanel({ lines, error, isLive }: { lines: LogEntry[]; error: unknown; isLive: boolean }) {
  const [level, setLevel] = useState<'all' | LogEntry['level']>('all');
  const [isFollowing, setIsFollowing] = useState(true);
  const listRef = useRef<HTMLOListElement>(null);
  const shown = level === 'all' ? lines : lines.filter((l) => l.level === level);

  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll again whenever lines arrive.
  useLayoutEffect(() => {
    const list = listRef.current;
    if (list && isFollowing) list.scrollTop = list.scrollHeight;
  }, [shown.length, isFollowing]);

  return (
    <div className="logs">
      <div className="toolbar">
        <select
          className="input input-small"
          aria-label="Log level"
          value={level}
          onChange={(e) => setLevel(e.target.value as typeof level)}
        >
          <option value="all">All levels</option>
          <option value="debug">Debug</option>
          <option value="info">Info</option>
          <option value="warn">Warn</option>
          <option value="error">Error</option>
        </select>
        <label className="toggle">
          <input type="checkbox" checked={isFollowing} onChange={(e) => setIsFollowing(e.target.checked)} />
          Follow
        </label>
        {isLive && (
          <span className="muted small">
            <span className="live-dot is-live" aria-hidden="true" /> live
          </span>
        )}
        <span className="muted small">{lines.length} lines</span>
      </div>
      <ErrorBanner error={error} />
      {shown.length === 0 ? (
        <Empty>{lines.length === 0 ? 'No log lines yet.' : 'No line at this level.'}</Empty>
      ) : (
        <ol className="log-list" ref={listRef} data-testid="log-list">
          {shown.map((line, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: log lines are append-only and have no id.
            <li key={i} className={`log-line level-${line.level}`} data-testid="log-line" data-level={line.level}>
              <time className="log-time" dateTime={line.time} title={formatTime(line.time)}>
                {formatClock(line.time)}
              </time>
              <span className="log-level">{line.level}</span>
              <span className="log-attempt" title="attempt">
                #{line.attempt}
              </span>
              <span className="log-message">{line.message}</span>
              {line.fields !== undefined && (
                <details className="log-fields">
                  <summary>fields</summary>
                  <pre className="json">{prettyJson(line.fields)}</pre>
                </details>
              )}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
