/**
 * One run: header (state, ids, actions), why it waits, progress, result, and
 * tabs for the DAG, timeline, logs, attempts, steps, stream, children and
 * input. While the run is not finished it listens to `runs/:id/live` (SSE)
 * and also polls every 2 s, so it stays current when SSE is unavailable.
 */
import { type ReactNode, useCallback, useEffect, useState } from 'react';
import { api, apiUrl, sessionInfo } from '../api/client';
import { type Run, TERMINAL_TYPES } from '../api/types';
import { ErrorView, JsonView } from '../components/json-view';
import { Card, ErrorBanner, Facts, Loading, PageHeader } from '../components/layout-parts';
import { StateBadge } from '../components/state-badge';
import { Tags } from '../components/tags';
import { RelTime } from '../components/time';
import { useEventSource, useResource } from '../lib/hooks';
import { href, navigate } from '../lib/router';
import { DagGraph } from '../run/dag-graph';
import { LogsPanel, useRunLogs } from '../run/logs-panel';
import { RunActions } from '../run/run-actions';
import { Attempts, Children, Steps, Timeline } from '../run/run-sections';
import { StreamPanel } from '../run/stream-panel';
import { TriggerText, WaitingPanel } from '../run/waiting-panel';

const POLL_MS = 2000;

type Tab = 'dag' | 'timeline' | 'logs' | 'attempts' | 'steps' | 'stream' | 'children' | 'input';

function RunLink({ id }: { id: string }) {
  return (
    <a className="mono" href={href(`/runs/${encodeURIComponent(id)}`)}>
      {id}
    </a>
  );
}

function Progress({ progress }: { progress: NonNullable<Run['progress']> }) {
  const value = Math.min(1, Math.max(0, progress.value));
  return (
    <div className="progress-row" data-testid="run-progress">
      <progress className="progress" max={1} value={value} />
      <span className="progress-value">{Math.round(value * 100)}%</span>
      {progress.message && <span className="muted">{progress.message}</span>}
    </div>
  );
}

export function RunPage({ runId, query }: { runId: string; query: URLSearchParams }) {
  const load = useCallback(
    (signal: AbortSignal) => api.get<Run>(`runs/${encodeURIComponent(runId)}`, undefined, signal),
    [runId],
  );
  // Poll only while the run can still change.
  const [isFinished, setIsFinished] = useState(false);
  const polled = useResource(`run:${runId}`, load, isFinished ? undefined : POLL_MS);
  const current = polled.data;
  const isActive = current ? !TERMINAL_TYPES.includes(current.state.type) : true;
  useEffect(() => setIsFinished(current !== undefined && !isActive), [current, isActive]);
  const logs = useRunLogs(runId, isActive);
  const { reload: reloadPoll } = polled;
  const { fetchNow: fetchLogs } = logs;

  const liveStatus = useEventSource(current && isActive ? apiUrl(`runs/${encodeURIComponent(runId)}/live`) : null, {
    state: () => reloadPoll(),
    log: () => void fetchLogs(),
    end: () => {
      reloadPoll();
      void fetchLogs();
    },
  });

  if (!current) {
    return (
      <>
        <PageHeader title="Run" subtitle={<span className="mono">{runId}</span>} />
        {polled.error ? <ErrorBanner error={polled.error} /> : <Loading />}
        <p>
          <a href={href('/')}>← All runs</a>
        </p>
      </>
    );
  }

  const hasDag = current.kind === 'workflow' && (current.dag?.tasks.length ?? 0) > 0;
  const tabs: { id: Tab; label: string; count?: number }[] = [
    ...(hasDag ? [{ id: 'dag' as const, label: 'Graph', count: current.dag?.tasks.length }] : []),
    { id: 'logs', label: 'Logs', count: logs.lines.length },
    { id: 'timeline', label: 'Timeline', count: current.states.length },
    { id: 'attempts', label: 'Attempts', count: current.attempts.length },
    { id: 'steps', label: 'Steps', count: current.steps.length },
    { id: 'stream', label: 'Stream' },
    { id: 'children', label: 'Children', count: current.children.length },
    { id: 'input', label: 'Input & metadata' },
  ];
  const requested = query.get('tab') as Tab | null;
  const tab: Tab = requested && tabs.some((t) => t.id === requested) ? requested : hasDag ? 'dag' : 'logs';
  const canWrite = sessionInfo().scope !== 'read';
  // The detail sends `output: null` and may keep an earlier attempt's `error` while a retry runs.
  const error = current.state.error ?? (isActive || current.state.type === 'COMPLETED' ? undefined : current.error);
  const output = current.state.output !== undefined ? current.state.output : current.output;
  const hasOutput = current.state.type === 'COMPLETED';
  const title = current.kind === 'workflow' ? current.workflowName : current.taskName;
  const facts: [ReactNode, ReactNode][] = [['Task', <code key="t">{current.taskName}</code>]];
  if (current.workflowName !== current.taskName) facts.push(['Workflow', <code key="w">{current.workflowName}</code>]);
  if (current.workflowRunId && current.workflowRunId !== current.id) {
    facts.push(['Workflow run', <RunLink key="wr" id={current.workflowRunId} />]);
  }
  if (current.parentRunId) facts.push(['Parent run', <RunLink key="p" id={current.parentRunId} />]);
  facts.push(
    ['Trigger', <TriggerText key="tr" trigger={current.trigger} />],
    ['Created', <RelTime key="c" iso={current.createdAt} />],
    ['State since', <RelTime key="s" iso={current.state.timestamp} />],
    ['Attempt', String(current.attempt)],
  );
  if (current.priority !== undefined) facts.push(['Priority', String(current.priority)]);
  facts.push(['Tags', <Tags key="tg" tags={current.tags} />]);

  return (
    <>
      <PageHeader
        title={
          <span className="run-title">
            {title}
            <StateBadge state={current.state} testId="run-state" />
          </span>
        }
        subtitle={
          <>
            {current.kind === 'workflow' ? 'Workflow run' : 'Task run'}{' '}
            <span className="mono" data-testid="run-id">
              {current.id}
            </span>
            {isActive && liveStatus === 'open' && (
              <span className="muted small">
                {' '}
                · <span className="live-dot is-live" aria-hidden="true" /> live
              </span>
            )}
          </>
        }
        actions={<RunActions run={current} canWrite={canWrite} onDone={reloadPoll} />}
      />
      <ErrorBanner error={polled.error} />

      {current.state.waitingOn && !TERMINAL_TYPES.includes(current.state.type) && (
        <WaitingPanel waitingOn={current.state.waitingOn} />
      )}

      <Card>
        {current.state.message && <p className="state-message">{current.state.message}</p>}
        {current.progress && isActive && <Progress progress={current.progress} />}
        <Facts items={facts} />
      </Card>

      {error && (
        <Card title="Error" className="card-error">
          <ErrorView error={error} testId="run-error" />
        </Card>
      )}
      {hasOutput && !error && (
        <Card title="Output">
          <JsonView value={output} testId="run-output" />
        </Card>
      )}

      <div className="tabs" role="tablist">
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            aria-selected={tab === t.id}
            className={`tab ${tab === t.id ? 'is-active' : ''}`}
            data-testid={`tab-${t.id}`}
            onClick={() => navigate(`/runs/${encodeURIComponent(runId)}`, { query: { tab: t.id }, replace: true })}
          >
            {t.label}
            {t.count !== undefined && <span className="tab-count">{t.count}</span>}
          </button>
        ))}
      </div>
      <section className="card tab-panel" role="tabpanel">
        <div className="card-body">
          {tab === 'dag' && current.dag && <DagGraph tasks={current.dag.tasks} />}
          {tab === 'logs' && <LogsPanel lines={logs.lines} error={logs.error} isLive={isActive} />}
          {tab === 'timeline' && <Timeline states={current.states} />}
          {tab === 'attempts' && <Attempts attempts={current.attempts} />}
          {tab === 'steps' && <Steps runId={current.id} steps={current.steps} canFork={canWrite && !isActive} />}
          {tab === 'stream' && <StreamPanel runId={current.id} />}
          {tab === 'children' && <Children items={current.children} />}
          {tab === 'input' && (
            <div className="split">
              <div>
                <h3>Input</h3>
                <JsonView value={current.input} testId="run-input" />
              </div>
              <div>
                <h3>Metadata</h3>
                <JsonView value={current.metadata ?? {}} />
              </div>
            </div>
          )}
        </div>
      </section>
    </>
  );
}
