/** "Why is it waiting" (from `state.waitingOn`) and what started the run (its trigger). */
import type { Trigger, WaitingOn } from '../api/types';
import { Tags } from '../components/tags';
import { formatRelative, formatTime } from '../lib/format';
import { useNow } from '../lib/hooks';
import { href } from '../lib/router';

const REASONS: Record<string, string> = {
  scheduled: 'Scheduled for later',
  'retry-delay': 'Waiting to retry',
  'no-worker': 'No worker serves this task',
  'workers-busy': 'All workers are busy',
  'lease-expired': 'Worker lost its lease',
  cancellation: 'Cancelling',
  parents: 'Waiting for upstream tasks',
  'workflow-failure': 'Workflow failed upstream',
  'durable-wait': 'Durable wait',
  concurrency: 'Concurrency limit reached',
  'rate-limit': 'Rate limited',
  labels: 'No worker has the required labels',
  cache: 'Waiting for a cached result',
};

function RunLink({ id }: { id: string }) {
  return (
    <a className="mono" href={href(`/runs/${encodeURIComponent(id)}`)}>
      {id}
    </a>
  );
}

export function WaitingPanel({ waitingOn }: { waitingOn: WaitingOn }) {
  const now = useNow();
  const when = waitingOn.until ?? waitingOn.deadline;
  return (
    <section className="waiting card" data-testid="waiting-on" data-reason={waitingOn.reason}>
      <div className="waiting-icon" aria-hidden="true">
        ⏳
      </div>
      <div className="waiting-body">
        <h2>Why is it waiting? {REASONS[waitingOn.reason] ?? waitingOn.reason}</h2>
        <p>{waitingOn.message}</p>
        <ul className="waiting-facts">
          {when && (
            <li>
              {waitingOn.until ? 'Until' : 'Deadline'}: <time dateTime={when}>{formatTime(when)}</time>{' '}
              <span className="muted">({formatRelative(when, now)})</span>
            </li>
          )}
          {waitingOn.task && (
            <li>
              Task: <code>{waitingOn.task}</code>
            </li>
          )}
          {waitingOn.workerId && (
            <li>
              Worker: {waitingOn.workerName ?? ''} <code>{waitingOn.workerId}</code>
            </li>
          )}
          {waitingOn.key && (
            <li>
              Key: <code>{waitingOn.key}</code>
              {waitingOn.max !== undefined && ` (at most ${waitingOn.max} at once)`}
            </li>
          )}
          {waitingOn.signalKey && (
            <li>
              Event: <code>{waitingOn.signalKey}</code>
            </li>
          )}
          {waitingOn.childRunId && (
            <li>
              Child run: <RunLink id={waitingOn.childRunId} />
            </li>
          )}
          {waitingOn.runId && (
            <li>
              Run: <RunLink id={waitingOn.runId} />
            </li>
          )}
          {waitingOn.parents && waitingOn.parents.length > 0 && (
            <li>
              Upstream:{' '}
              {waitingOn.parents.map((p) => (
                <code key={p}>{p} </code>
              ))}
            </li>
          )}
          {waitingOn.labels && (
            <li>
              Labels: <Tags tags={waitingOn.labels} />
            </li>
          )}
        </ul>
      </div>
    </section>
  );
}

export function TriggerText({ trigger }: { trigger: Trigger | undefined }) {
  if (!trigger) return <span className="muted">—</span>;
  switch (trigger.kind) {
    case 'manual':
      return <span>Started by hand (API, CLI or code)</span>;
    case 'event':
      return (
        <span>
          Event <code>{trigger.event.key}</code> <span className="muted mono small">{trigger.event.id}</span>
        </span>
      );
    case 'cron':
      return (
        <span>
          Cron <code>{trigger.expression}</code> for {formatTime(trigger.scheduledAt)}
        </span>
      );
    case 'schedule':
      return (
        <span>
          Schedule <code>{trigger.scheduleId}</code>
        </span>
      );
    case 'child':
      return (
        <span>
          Child of <RunLink id={trigger.parentTaskRunId} />
        </span>
      );
    case 'replay':
      return (
        <span>
          Replay of <RunLink id={trigger.sourceRunId} />
        </span>
      );
    case 'fork':
      return (
        <span>
          Fork of <RunLink id={trigger.sourceRunId} /> from step <code>{trigger.fromStep}</code>
        </span>
      );
    case 'transaction':
      return (
        <span>
          {trigger.hook === 'rollback' ? 'Rollback' : 'Commit'} hook for <RunLink id={trigger.sourceRunId} />
        </span>
      );
    case 'retry':
      return (
        <span>
          Retry after attempt {trigger.previousAttempt} of: <TriggerText trigger={trigger.origin} />
        </span>
      );
    default:
      return <code>{JSON.stringify(trigger)}</code>;
  }
}
