/** Events: the newest events (filter by key, "Load more"), and a form to push one (api/v1/events). */
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { ApiError, api, sessionInfo } from '../api/client';
import type { EventRecord, Issue, Page } from '../api/types';
import { JsonView } from '../components/json-view';
import { Card, Empty, ErrorBanner, Loading, PageHeader } from '../components/layout-parts';
import { RelTime } from '../components/time';
import { issuePath, parseJsonInput, previewJson } from '../lib/format';

const PAGE_SIZE = 50;

function PushEvent({ onPushed }: { onPushed: (event: EventRecord) => void }) {
  const [key, setKey] = useState('');
  const [payloadText, setPayloadText] = useState('{}');
  const [metadataText, setMetadataText] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [isBusy, setIsBusy] = useState(false);
  const payload = parseJsonInput(payloadText);
  const metadata = parseJsonInput(metadataText);
  const metadataError =
    'error' in metadata
      ? metadata.error
      : metadata.value !== undefined &&
          (typeof metadata.value !== 'object' || metadata.value === null || Array.isArray(metadata.value))
        ? 'metadata must be a JSON object'
        : undefined;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if ('error' in payload || 'error' in metadata || metadataError) return;
    setIsBusy(true);
    setError(undefined);
    setIssues([]);
    try {
      const body: Record<string, unknown> = { key: key.trim() };
      if (payload.value !== undefined) body.payload = payload.value;
      if (metadata.value !== undefined) body.metadata = metadata.value;
      const pushed = await api.post<EventRecord>('events', body);
      onPushed(pushed);
    } catch (e) {
      if (e instanceof ApiError) setIssues(e.issues);
      setError(e);
    } finally {
      setIsBusy(false);
    }
  };

  return (
    <form className="form" onSubmit={(e) => void submit(e)} data-testid="event-form">
      <label className="field">
        <span>Key</span>
        <input
          className="input mono"
          data-testid="event-key"
          placeholder="order.paid"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          required
        />
      </label>
      <div className="form-grid">
        <label className="field">
          <span>Payload (JSON)</span>
          <textarea
            className={`input textarea mono ${'error' in payload ? 'is-invalid' : ''}`}
            rows={6}
            spellCheck={false}
            data-testid="event-payload"
            value={payloadText}
            onChange={(e) => setPayloadText(e.target.value)}
          />
          {'error' in payload && <span className="field-error">Not valid JSON: {payload.error}</span>}
        </label>
        <label className="field">
          <span>Metadata (JSON object, optional)</span>
          <textarea
            className={`input textarea mono ${metadataError ? 'is-invalid' : ''}`}
            rows={6}
            spellCheck={false}
            value={metadataText}
            onChange={(e) => setMetadataText(e.target.value)}
          />
          {metadataError && <span className="field-error">{metadataError}</span>}
        </label>
      </div>
      {issues.length > 0 && (
        <ul className="issues">
          {issues.map((i) => (
            <li key={`${issuePath(i.path)}:${i.message}`}>
              <code>{issuePath(i.path) || 'body'}</code>: {i.message}
            </li>
          ))}
        </ul>
      )}
      <ErrorBanner error={error} />
      <div>
        <button
          type="submit"
          className="button button-primary"
          data-testid="event-submit"
          disabled={isBusy || key.trim() === '' || 'error' in payload || metadataError !== undefined}
        >
          {isBusy ? 'Pushing…' : 'Push event'}
        </button>
      </div>
    </form>
  );
}

export function EventsPage() {
  const [keyFilter, setKeyFilter] = useState('');
  const [draft, setDraft] = useState('');
  const [items, setItems] = useState<EventRecord[]>([]);
  const [nextCursor, setNextCursor] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [isLoading, setIsLoading] = useState(true);
  const [isPushing, setIsPushing] = useState(false);
  const [note, setNote] = useState<string | undefined>(undefined);
  const canWrite = sessionInfo().scope !== 'read';

  const loadPage = useCallback(
    async (cursor?: string) => {
      setIsLoading(true);
      try {
        const page = await api.get<Page<EventRecord>>('events', { key: keyFilter, limit: PAGE_SIZE, cursor });
        setItems((current) => (cursor ? [...current, ...page.items] : page.items));
        setNextCursor(page.nextCursor);
        setError(undefined);
      } catch (e) {
        setError(e);
      } finally {
        setIsLoading(false);
      }
    },
    [keyFilter],
  );

  useEffect(() => {
    void loadPage();
  }, [loadPage]);

  return (
    <>
      <PageHeader
        title="Events"
        subtitle="Events start the workflows that listen on their key and wake durable waits."
        actions={
          canWrite && (
            <button
              type="button"
              className="button button-primary"
              data-testid="event-new"
              onClick={() => setIsPushing((v) => !v)}
            >
              {isPushing ? 'Close form' : '+ Push event'}
            </button>
          )
        }
      />
      {isPushing && (
        <Card title="Push an event">
          <PushEvent
            onPushed={(event) => {
              setIsPushing(false);
              setNote(`Pushed event ${event?.id ?? ''} (${event?.key ?? ''}).`);
              void loadPage();
            }}
          />
        </Card>
      )}
      {note && (
        <div className="banner banner-info" data-testid="event-pushed">
          {note}
        </div>
      )}
      <Card>
        <div className="toolbar">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              setKeyFilter(draft.trim());
            }}
          >
            <input
              className="input"
              type="search"
              placeholder="Filter by key (Enter)"
              aria-label="Event key"
              data-testid="events-filter-key"
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
            />
          </form>
          <button type="button" className="button button-ghost" onClick={() => void loadPage()}>
            Refresh
          </button>
        </div>
        <ErrorBanner error={error} />
        {isLoading && items.length === 0 ? (
          <Loading />
        ) : items.length === 0 ? (
          <Empty>{keyFilter ? `No event with key "${keyFilter}".` : 'No events yet.'}</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Key</th>
                  <th>Payload</th>
                </tr>
              </thead>
              <tbody>
                {items.map((event) => (
                  <tr key={event.id} data-testid="event-row" data-event-id={event.id}>
                    <td>
                      <RelTime iso={event.time} />
                    </td>
                    <td>
                      <code>{event.key}</code>
                      <div className="mono small muted">{event.id}</div>
                    </td>
                    <td className="cell-wide">
                      <details>
                        <summary className="mono small">{previewJson(event.payload, 100) || '—'}</summary>
                        <h4>Payload</h4>
                        <JsonView value={event.payload} />
                        {event.metadata && Object.keys(event.metadata).length > 0 && (
                          <>
                            <h4>Metadata</h4>
                            <JsonView value={event.metadata} />
                          </>
                        )}
                      </details>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {nextCursor && (
          <div className="load-more">
            <button type="button" className="button" disabled={isLoading} onClick={() => void loadPage(nextCursor)}>
              {isLoading ? 'Loading…' : 'Load more'}
            </button>
          </div>
        )}
      </Card>
    </>
  );
}
