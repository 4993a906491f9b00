/** The run page's plain sections: timeline of states, attempts, durable steps and child runs. */
import { useState } from 'react';
import { api } from '../api/client';
import type { AttemptInfo, RunSummary, State, Step } from '../api/types';
import { ErrorView, JsonView } from '../components/json-view';
import { Empty } from '../components/layout-parts';
import { ConfirmDialog } from '../components/modal';
import { StateBadge } from '../components/state-badge';
import { Tags } from '../components/tags';
import { RelTime } from '../components/time';
import { elapsedMs, formatDuration, formatTime, previewJson } from '../lib/format';
import { useNow } from '../lib/hooks';
import { href, navigate } from '../lib/router';

export function Timeline({ states }: { states: State[] }) {
  if (states.length === 0) return <Empty>No states recorded.</Empty>;
  return (
    <ol className="timeline">
      {states.map((state, i) => {
        const next = states[i + 1];
        const spent = next ? new Date(next.timestamp).getTime() - new Date(state.timestamp).getTime() : undefined;
        return (
          <li
            // biome-ignore lint/suspicious/noArrayIndexKey: states are append-only, so the index is stable.
            key={i}
            className={`timeline-item state-${state.type.toLowerCase()}`}
            data-testid="timeline-state"
            data-state-name={state.name}
          >
            <span className="timeline-dot" aria-hidden="true" />
            <div className="timeline-head">
              <StateBadge state={state} />
              <time dateTime={state.timestamp} className="muted small">
                {formatTime(state.timestamp)}
              </time>
              {state.attempt !== undefined && <span className="muted small">attempt {state.attempt}</span>}
              {spent !== undefined && <span className="muted small">· {formatDuration(spent)} in this state</span>}
            </div>
            {state.message && <div className="timeline-message">{state.message}</div>}
            {state.waitingOn && (
              <div className="timeline-message muted">
                {state.waitingOn.reason}: {state.waitingOn.message}
              </div>
            )}
            {state.error && (
              <div className="timeline-error">
                <strong>{state.error.name}</strong>: {state.error.message}
              </div>
            )}
          </li>
        );
      })}
    </ol>
  );
}

export function Attempts({ attempts }: { attempts: AttemptInfo[] }) {
  const now = useNow();
  if (attempts.length === 0) return <Empty>No attempt has started yet.</Empty>;
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th className="num">Attempt</th>
            <th>Worker</th>
            <th>Started</th>
            <th>Ended</th>
            <th className="num">Duration</th>
            <th>Outcome</th>
          </tr>
        </thead>
        <tbody>
          {attempts.map((a, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: one attempt number can have several claims (crashes).
            <tr key={i} data-testid="attempt-row">
              <td className="num">{a.attempt}</td>
              <td>
                {a.workerName ?? ''} <span className="mono small muted">{a.workerId}</span>
              </td>
              <td>{formatTime(a.startedAt)}</td>
              <td>{a.endedAt ? formatTime(a.endedAt) : <span className="muted">running</span>}</td>
              <td className="num">{formatDuration(elapsedMs(a.startedAt, a.endedAt, now))}</td>
              <td>{a.outcome ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Steps({ runId, steps, canFork }: { runId: string; steps: Step[]; canFork: boolean }) {
  const [forkFrom, setForkFrom] = useState<string | undefined>(undefined);
  if (steps.length === 0) return <Empty>No durable steps or waits were recorded (plain tasks have none).</Empty>;
  return (
    <>
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th>Step</th>
              <th>Kind</th>
              <th className="num">Attempt</th>
              <th>Recorded</th>
              <th>Result</th>
              {canFork && <th />}
            </tr>
          </thead>
          <tbody>
            {steps.map((step, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: steps are append-only records.
              <tr key={i} data-testid="step-row" data-step={step.name}>
                <td className="mono">{step.name}</td>
                <td>
                  <span className="tag">{step.kind}</span>
                </td>
                <td className="num">{step.attempt}</td>
                <td>
                  <RelTime iso={step.createdAt} />
                </td>
                <td className="cell-wide">
                  {step.error ? (
                    <details>
                      <summary className="text-error">
                        {step.error.name}: {step.error.message}
                      </summary>
                      <ErrorView error={step.error} />
                    </details>
                  ) : step.output === undefined ? (
                    <span className="muted">—</span>
                  ) : (
                    <details>
                      <summary className="mono small">{previewJson(step.output, 80)}</summary>
                      <JsonView value={step.output} />
                    </details>
                  )}
                </td>
                {canFork && (
                  <td>
                    {/* `$…` keys are Baton's own records (wait starts, recorded clock values), not fork points. */}
                    {!step.name.startsWith('$') && (
                      <button type="button" className="button button-small" onClick={() => setForkFrom(step.name)}>
                        Fork here
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {forkFrom !== undefined && (
        <ConfirmDialog
          title="Fork this run"
          message={`Start a new run that reuses the recorded steps before "${forkFrom}" and runs from there on.`}
          confirmLabel="Fork"
          onClose={() => setForkFrom(undefined)}
          onConfirm={async () => {
            const { id } = await api.post<{ id: string }>(`runs/${encodeURIComponent(runId)}/fork`, { fromStep: forkFrom });
            navigate(`/runs/${encodeURIComponent(id)}`);
          }}
        />
      )}
    </>
  );
}

export function Children({ items }: { items: RunSummary[] }) {
  if (items.length === 0) return <Empty>This run started no child runs.</Empty>;
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th>State</th>
            <th>Run</th>
            <th>Tags</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {items.map((run) => (
            <tr key={run.id} data-testid="child-row" data-run-id={run.id}>
              <td>
                <StateBadge state={run.state} />
              </td>
              <td>
                <a className="run-link" href={href(`/runs/${encodeURIComponent(run.id)}`)}>
                  {run.taskName}
                </a>
                <div className="mono small muted">{run.id}</div>
              </td>
              <td>
                <Tags tags={run.tags} />
              </td>
              <td>
                <RelTime iso={run.createdAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
