/** Schedules: list them, create a cron or one-off schedule, delete one (api/v1/schedules). */
import { type FormEvent, useCallback, useState } from 'react';
import { ApiError, api, sessionInfo } from '../api/client';
import { useTasks } from '../api/tasks';
import type { Issue, Page, RegisteredTask, Schedule } from '../api/types';
import { Card, Empty, ErrorBanner, Loading, PageHeader } from '../components/layout-parts';
import { ConfirmDialog } from '../components/modal';
import { RelTime } from '../components/time';
import { formatTime, issuePath, parseJsonInput } from '../lib/format';
import { useResource } from '../lib/hooks';
import { href } from '../lib/router';

const PRESETS: [string, string][] = [
  ['every minute', '* * * * *'],
  ['every 5 minutes', '*/5 * * * *'],
  ['hourly', '0 * * * *'],
  ['daily at midnight', '0 0 * * *'],
  ['Mondays 9:00', '0 9 * * 1'],
];

function CreateSchedule({ tasks, onCreated }: { tasks: RegisteredTask[]; onCreated: () => void }) {
  const [chosen, setTarget] = useState('');
  const target = chosen !== '' ? chosen : tasks[0] ? `${tasks[0].kind}:${tasks[0].name}` : '';
  const [kind, setKind] = useState<'cron' | 'once'>('cron');
  const [cron, setCron] = useState('*/5 * * * *');
  const [at, setAt] = useState('');
  const [timezone, setTimezone] = useState('UTC');
  const [overlap, setOverlap] = useState('skip');
  const [misfire, setMisfire] = useState('run-once');
  const [inputText, setInputText] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [isBusy, setIsBusy] = useState(false);
  const parsed = parseJsonInput(inputText);
  const selected = tasks.find((t) => `${t.kind}:${t.name}` === target);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!selected || 'error' in parsed) return;
    setIsBusy(true);
    setError(undefined);
    setIssues([]);
    try {
      const body: Record<string, unknown> = { [selected.kind]: selected.name };
      if (kind === 'cron') {
        body.cron = cron.trim();
        body.timezone = timezone.trim() || 'UTC';
        body.overlap = overlap;
        body.misfire = misfire;
      } else {
        const when = new Date(at);
        if (Number.isNaN(when.getTime())) throw new Error('Pick a date and time for the one-off schedule.');
        body.at = when.toISOString();
      }
      if (parsed.value !== undefined) body.input = parsed.value;
      await api.post('schedules', body);
      onCreated();
    } catch (e) {
      if (e instanceof ApiError) setIssues(e.issues);
      setError(e);
    } finally {
      setIsBusy(false);
    }
  };

  return (
    <form className="form" onSubmit={(e) => void submit(e)} data-testid="schedule-form">
      <div className="form-grid">
        <label className="field">
          <span>Task or workflow</span>
          <select
            className="input"
            data-testid="schedule-target"
            value={target}
            onChange={(e) => setTarget(e.target.value)}
            required
          >
            {tasks.length === 0 && <option value="">No task is registered yet</option>}
            {tasks.map((t) => (
              <option key={`${t.kind}:${t.name}`} value={`${t.kind}:${t.name}`}>
                {t.kind === 'workflow' ? `${t.name} (workflow)` : t.name}
              </option>
            ))}
          </select>
        </label>
        <fieldset className="field">
          <legend>Kind</legend>
          <div className="segmented">
            <button
              type="button"
              className={`segment ${kind === 'cron' ? 'is-active' : ''}`}
              aria-pressed={kind === 'cron'}
              onClick={() => setKind('cron')}
            >
              Cron
            </button>
            <button
              type="button"
              className={`segment ${kind === 'once' ? 'is-active' : ''}`}
              aria-pressed={kind === 'once'}
              data-testid="schedule-kind-once"
              onClick={() => setKind('once')}
            >
              Once
            </button>
          </div>
        </fieldset>
        {kind === 'cron' ? (
          <>
            <label className="field">
              <span>Cron expression</span>
              <input
                className="input mono"
                data-testid="schedule-cron"
                value={cron}
                onChange={(e) => setCron(e.target.value)}
                required
              />
              <span className="presets">
                {PRESETS.map(([label, expr]) => (
                  <button key={expr} type="button" className="link-button" onClick={() => setCron(expr)}>
                    {label}
                  </button>
                ))}
              </span>
            </label>
            <label className="field">
              <span>Time zone</span>
              <input className="input" value={timezone} onChange={(e) => setTimezone(e.target.value)} placeholder="UTC" />
            </label>
          </>
        ) : (
          <label className="field">
            <span>At (your local time)</span>
            <input
              className="input"
              type="datetime-local"
              data-testid="schedule-at"
              value={at}
              onChange={(e) => setAt(e.target.value)}
              required
            />
          </label>
        )}
        {kind === 'cron' && (
          <>
            <label className="field">
              <span>If the previous run is still going</span>
              <select className="input" value={overlap} onChange={(e) => setOverlap(e.target.value)}>
                <option value="skip">skip this firing</option>
                <option value="queue">queue it</option>
                <option value="cancel-previous">cancel the previous run</option>
              </select>
            </label>
            <label className="field">
              <span>After downtime</span>
              <select className="input" value={misfire} onChange={(e) => setMisfire(e.target.value)}>
                <option value="run-once">run once to catch up</option>
                <option value="skip">skip missed firings</option>
              </select>
            </label>
          </>
        )}
      </div>
      <label className="field">
        <span>Input (JSON, optional)</span>
        <textarea
          className={`input textarea mono ${'error' in parsed ? 'is-invalid' : ''}`}
          rows={4}
          spellCheck={false}
          data-testid="schedule-input"
          value={inputText}
          onChange={(e) => setInputText(e.target.value)}
        />
        {'error' in parsed && <span className="field-error">Not valid JSON: {parsed.error}</span>}
      </label>
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
          data-testid="schedule-submit"
          disabled={isBusy || !selected || 'error' in parsed}
        >
          {isBusy ? 'Creating…' : 'Create schedule'}
        </button>
      </div>
    </form>
  );
}

export function SchedulesPage() {
  const load = useCallback(async (signal: AbortSignal) => {
    const data = await api.get<Page<Schedule> | Schedule[]>('schedules', { limit: 1000 }, signal);
    return Array.isArray(data) ? { items: data } : data;
  }, []);
  const schedules = useResource('schedules', load, 10_000);
  const tasks = useTasks();
  const [isCreating, setIsCreating] = useState(false);
  const [deleting, setDeleting] = useState<Schedule | undefined>(undefined);
  const canWrite = sessionInfo().scope !== 'read';
  const items = schedules.data?.items ?? [];

  return (
    <>
      <PageHeader
        title="Schedules"
        subtitle="Crons and one-off runs. Schedules from a workflow's code are rewritten when a worker starts."
        actions={
          canWrite && (
            <button
              type="button"
              className="button button-primary"
              data-testid="schedule-new"
              onClick={() => setIsCreating((v) => !v)}
            >
              {isCreating ? 'Close form' : '+ New schedule'}
            </button>
          )
        }
      />
      {isCreating && (
        <Card title="New schedule">
          <CreateSchedule
            tasks={tasks.data?.items ?? []}
            onCreated={() => {
              setIsCreating(false);
              schedules.reload();
            }}
          />
        </Card>
      )}
      <Card>
        <ErrorBanner error={schedules.error} />
        {!schedules.data ? (
          !schedules.error && <Loading />
        ) : items.length === 0 ? (
          <Empty>No schedules.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>Target</th>
                  <th>When</th>
                  <th>Policies</th>
                  <th>Next</th>
                  <th>Last run</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {items.map((s) => (
                  <tr key={s.id} data-testid="schedule-row" data-schedule-id={s.id}>
                    <td>
                      <code>{s.target}</code>
                      {s.fromCode && <span className="tag">from code</span>}
                      <div className="mono small muted">{s.id}</div>
                    </td>
                    <td>
                      {s.kind === 'cron' ? (
                        <>
                          <code>{s.cron}</code> <span className="muted small">{s.timezone ?? 'UTC'}</span>
                        </>
                      ) : (
                        <span>once</span>
                      )}
                    </td>
                    <td className="small">
                      overlap <code>{s.overlap}</code>
                      <br />
                      misfire <code>{s.misfire}</code>
                    </td>
                    <td title={formatTime(s.nextFireAt)}>
                      {s.nextFireAt ? <RelTime iso={s.nextFireAt} /> : <span className="muted">done</span>}
                    </td>
                    <td>
                      {s.lastRunId ? (
                        <a href={href(`/runs/${encodeURIComponent(s.lastRunId)}`)}>
                          <RelTime iso={s.lastFiredAt} />
                        </a>
                      ) : (
                        <span className="muted">never</span>
                      )}
                    </td>
                    <td>
                      {canWrite && (
                        <button
                          type="button"
                          className="button button-small button-danger-outline"
                          data-testid="schedule-delete"
                          title={s.fromCode ? 'Defined in code: a worker start writes it again' : undefined}
                          onClick={() => setDeleting(s)}
                        >
                          Delete
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      {deleting && (
        <ConfirmDialog
          title="Delete this schedule?"
          message={`The schedule of "${deleting.target}" stops firing. Runs it already started are not touched.${
            deleting.fromCode ? ' It is defined in code, so the next worker start creates it again.' : ''
          }`}
          confirmLabel="Delete"
          isDanger
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api.delete(`schedules/${encodeURIComponent(deleting.id)}`);
            schedules.reload();
          }}
        />
      )}
    </>
  );
}
