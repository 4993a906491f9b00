/** A run state as a coloured badge; the colour follows the coarse state type. */
import type { State } from '../api/types';

const LABELS: Record<string, string> = { AwaitingRetry: 'Awaiting retry', TimedOut: 'Timed out' };

export function stateLabel(name: string): string {
  return LABELS[name] ?? name;
}

export function StateBadge({ state, testId }: { state: Pick<State, 'type' | 'name' | 'message'>; testId?: string }) {
  return (
    <span
      className={`badge state-${state.type.toLowerCase()}`}
      data-testid={testId}
      data-state-type={state.type}
      data-state-name={state.name}
      title={state.message ? `${state.type}: ${state.message}` : state.type}
    >
      <span className="badge-dot" aria-hidden="true" />
      {stateLabel(state.name)}
    </span>
  );
}
